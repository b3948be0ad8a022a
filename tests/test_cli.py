"""The command line, run as a user would (a subprocess) or through main()."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from tests import digest, student
from tests.servehelp import interruptible
from xor_tui.cli.main import main
from xor_tui.core.io.scenario import builtin


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "xor_tui", *args], capture_output=True, text=True, timeout=300)


def test_cases_lists_every_builtin_one_line_each(capsys):
    assert main(["cases"]) == 0
    out = capsys.readouterr().out.splitlines()
    from xor_tui.core.io.scenario import builtin_names

    assert len(out) == len(builtin_names())
    assert out[0].startswith("case1")
    # to a pipe or a file each line is whole: the description's first sentence, uncut
    assert out[0].rstrip().endswith("the output is all zero (loss 50) and no parameter ever updates")


def test_replay_prints_a_summary_and_exits_0():
    r = run_cli("replay", "case1", "--epochs", "5")
    assert r.returncode == 0, r.stderr
    assert "final" in r.stdout and "case 1" in r.stdout
    assert "inactive on all four rows" in r.stdout
    assert "skip epoch 199" in r.stdout  # the expectation past --epochs is not checked


def test_replay_json_shape(capsys):
    assert main(["replay", "case7", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"] == "case7"
    assert data["halt"]["epoch"] == 98
    assert data["halt"]["message"] == "all elements of input should be between 0 and 1"
    recs = data["epochs"]
    assert [r["epoch"] for r in recs] == list(range(99))
    first, last = recs[0], recs[-1]
    assert first["case"] == 7 and first["loss"] == pytest.approx(digest.LOSS0[7], abs=1e-4)
    assert set(first["params"]) == {"hidden.weight", "hidden.bias", "output.weight", "output.bias"}
    assert len(first["params"]["hidden.weight"]) == 2 and len(first["params"]["hidden.weight"][0]) == 2
    assert len(first["hidden_pre"]) == 4 and len(first["output_out"]) == 4
    assert last["loss"] is None and last["grads"] is None and last["case"] is None
    assert "hidden[1]" in last["dead"]
    assert any(e["kind"] == "halts" for e in last["events"])


def test_seed_format_matches_the_students_printout_line_for_line(capsys):
    for case, epochs in ((1, 3), (4, 40), (7, 200)):
        assert main(["replay", f"case{case}", "--format", "seed", "--epochs", str(epochs)]) == 0
        ours = capsys.readouterr().out.splitlines()
        ref = io.StringIO()
        start = builtin(f"case{case}").start.values  # the recovered float32 start
        student.train(start, 0.001, epochs, echo=lambda *a, ref=ref: print(*a, file=ref))
        theirs = ref.getvalue().splitlines()
        assert ours == theirs
    assert theirs[-1] == "RuntimeError: all elements of input should be between 0 and 1"


def test_csv_is_written_and_not_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["replay", "case6", "--epochs", "10", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10 and rows[0]["case"] == "6"
    assert "hidden.weight[0][0]" in rows[0] and "grad:output.bias[0]" in rows[0]
    assert main(["replay", "case6", "--epochs", "3", "--csv", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert len(list(csv.DictReader(out.open()))) == 10
    assert main(["replay", "case6", "--epochs", "3", "--csv", str(out), "--force"]) == 0
    assert len(list(csv.DictReader(out.open()))) == 3


def test_csv_dash_writes_the_trace_to_standard_output_instead(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["replay", "case6", "--epochs", "10", "--csv", "-"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 10 and rows[0]["case"] == "6"
    assert list(tmp_path.iterdir()) == []  # no file named "-"
    assert main(["replay", "case6", "--csv", "-", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "xor-tui: --csv - and --json both write to standard output; choose one\n"


def test_failed_expectation_exits_1_and_says_which(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text('name = "e"\nepochs = 5\n[start]\nseed = 1\n[[expect]]\nepoch = 0\ncase = 6\n')
    r = run_cli("replay", str(p))
    assert r.returncode == 1
    assert "FAIL" in r.stdout and "case: expected 6" in r.stdout


def test_bad_input_exits_2_with_a_message(tmp_path, capsys):
    r = run_cli("replay", "nosuch")  # once through the real command line
    assert r.returncode == 2 and "neither a built-in" in r.stderr and "Traceback" not in r.stderr
    p = tmp_path / "bad.toml"
    p.write_text('name = "b"\n[training]\nlr = -3\n')
    for argv, said in (
        (["replay", str(p)], "training.lr"),
        (["replay", "case1", "--epochs", "-4"], "--epochs"),
        (["replay", "case1", "--epochs", "ten"], "--epochs"),
        (["replay", "ex4-3", "--format", "seed"], "one-hidden-layer"),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own refusals
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2, argv
        assert said in err and err.count("\n") == 1, argv


# ---------------------------------------------------------------- reliability


def test_csv_target_problems_are_reported_before_the_run(tmp_path, capsys, monkeypatch):
    import xor_tui.core.studies.replay as replay_mod

    def no_run(*a, **k):
        raise AssertionError("the run started before the target was checked")

    monkeypatch.setattr(replay_mod, "replay", no_run)
    for target in ("", str(tmp_path / "missing" / "t.csv"), str(tmp_path / "t.csv") + "/"):
        assert main(["replay", "case1", "--csv", target]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_csv_file_created_during_the_run_is_kept(tmp_path, capsys, monkeypatch):
    import xor_tui.core.studies.replay as replay_mod

    out = tmp_path / "t.csv"
    real = replay_mod.replay

    def slow_run(*a, **k):
        out.write_text("someone else's")
        return real(*a, **k)

    monkeypatch.setattr(replay_mod, "replay", slow_run)
    assert main(["replay", "case1", "--epochs", "3", "--csv", str(out)]) == 2
    assert "t.csv: already exists" in capsys.readouterr().err
    assert out.read_text() == "someone else's"


def test_non_finite_losses_are_null_in_json_and_say_why(tmp_path, capsys):
    p = tmp_path / "div.toml"
    p.write_text(
        'name = "div"\n[network]\nactivations = ["identity", "identity"]\n'
        '[training]\nloss = "mse"\nlr = 1000.0\n[start]\nseed = 9\n'
    )
    assert main(["replay", str(p), "--json"]) == 0
    text = capsys.readouterr().out
    assert "Infinity" not in text and '"inf"' not in text.replace('{"loss": "inf"}', "")
    data = json.loads(text)
    last = data["epochs"][-1]
    assert last["loss"] is None and last["nonfinite"] == {"loss": "inf"}
    assert data["halt"]["message"] == "loss is inf"
    assert main(["replay", str(p)]) == 0
    table = capsys.readouterr().out
    row2 = [line for line in table.splitlines() if line.split()[:1] == ["2"]][0]
    assert row2.split()[1] == "—" and "halted: loss is inf" in row2
    assert "the loss is inf: not finite" in table


@pytest.mark.kernel
def test_ctrl_c_during_a_replay_stops_with_one_line_and_130(tmp_path):
    """(Its kernel for long runs built first: else the replay starts its build and says so in
    a line of its own, before or after the JSON's first character, as the build process goes.)"""
    import signal

    from xor_tui.core.engine.fast import kernel

    kernel.load(builtin("case3").config, "path")
    proc = subprocess.Popen(
        [sys.executable, "-m", "xor_tui", "replay", "case3", "--epochs", "1000000", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    assert proc.stdout.read(1) == "{"  # torch imported, the run under way: its JSON has begun
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err == "xor-tui: interrupted\n"


class _FakeApp:
    driver_class = object  # lifecycle.install wraps it

    def __init__(self, **kwargs):
        self.return_code = None

    def run(self):
        self.return_code = 1  # what Textual sets after an unhandled exception


class _DyingApp(_FakeApp):
    def run(self):
        raise RuntimeError("terminal\nvanished")


def test_open_app_returns_non_zero_when_the_app_crashed(monkeypatch, capsys):
    import xor_tui.app.main as app_main

    monkeypatch.setattr(app_main, "XorApp", _FakeApp)
    assert main([]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    monkeypatch.setattr(app_main, "XorApp", _DyingApp)
    assert main(["--seed", "3"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "terminal\\nvanished" in err
    assert main(["--seed", "18446744073709551616"]) == 2
    assert "seed must be from 0 to 2**63-1" in capsys.readouterr().err


def test_streamed_json_is_the_same_object_as_replay_json():
    from xor_tui.core.io.scenario import builtin
    from xor_tui.core.studies import report
    from xor_tui.core.studies.replay import replay

    for name, epochs in (("case1", 40), ("case6", 30), ("case7", None)):
        rp = replay(builtin(name), epochs)
        buf = io.StringIO()
        report.write_replay_json(rp, buf)
        assert json.loads(buf.getvalue()) == report.replay_json(rp)


def test_a_reader_that_goes_away_gets_no_traceback_and_141():
    proc = subprocess.Popen(
        [sys.executable, "-m", "xor_tui", "replay", "case1", "--epochs", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141 and err == b""


def test_help_imports_no_torch():
    """`xor-tui --help` and `xor-tui sweep --help` answer at once (they took ~3 s importing
    torch for the outcomes' legend)."""
    code = (
        "import sys\n"
        "from xor_tui.cli.main import build_parser\n"
        "p = build_parser()\n"
        "p.format_help()\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [["cases"], ["replay", "case7", "--json"], ["survey", "--n", "300", "--epochs", "3"]])
def test_output_that_cannot_be_written_is_one_line_and_status_3(args):
    """A full disk (/dev/full) is one line, not a traceback."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "xor_tui", *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120
        )
    assert proc.returncode == 3
    assert proc.stderr == "xor-tui: cannot write the output: No space left on device\n"


def test_a_reader_that_goes_away_is_a_broken_pipe_for_every_commands_console():
    """survey, sweep, cases and replay print through OutputConsole: a reader gone (`| head`)
    reaches cli.main as BrokenPipeError (status 141, silent), where Rich exits 1."""
    from xor_tui.cli.common import OutputConsole

    class Gone(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    with pytest.raises(BrokenPipeError):
        OutputConsole(file=Gone()).print("a table")
