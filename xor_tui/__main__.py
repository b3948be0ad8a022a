from xor_tui.cli import run

run()
