from xor_tui.cli.main import run

run()
