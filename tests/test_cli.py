"""The command line, run as a user would (a subprocess) or through main()."""

import csv
import io
import json
import subprocess
import sys

import pytest

from tests import digest, student
from xor_tui.cli import main
from xor_tui.core.scenario import builtin


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "xor_tui", *args], capture_output=True, text=True, timeout=300)


def test_cases_lists_every_builtin_one_line_each(capsys):
    assert main(["cases"]) == 0
    out = capsys.readouterr().out.splitlines()
    from xor_tui.core.scenario import builtin_names

    assert len(out) == len(builtin_names())
    assert out[0].startswith("case1")


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


def test_failed_expectation_exits_1_and_says_which(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text('name = "e"\nepochs = 5\n[start]\nseed = 1\n[[expect]]\nepoch = 0\ncase = 6\n')
    r = run_cli("replay", str(p))
    assert r.returncode == 1
    assert "FAIL" in r.stdout and "case: expected 6" in r.stdout


def test_bad_input_exits_2_with_a_message(tmp_path):
    r = run_cli("replay", "nosuch")
    assert r.returncode == 2 and "neither a built-in" in r.stderr and "Traceback" not in r.stderr
    p = tmp_path / "bad.toml"
    p.write_text('name = "b"\n[training]\nlr = -3\n')
    r = run_cli("replay", str(p))
    assert r.returncode == 2 and "training.lr" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("replay", "case1", "--epochs", "-4")
    assert r.returncode == 2 and "--epochs" in r.stderr
    r = run_cli("replay", "case1", "--epochs", "ten")
    assert r.returncode == 2
    r = run_cli("replay", "ex4-3", "--format", "seed")
    assert r.returncode == 2 and "one-hidden-layer" in r.stderr
