"""The survey: the same trajectories as single runs, shares that add up, clear refusals."""

import json
import os

import pytest
import torch

from tests.servehelp import interruptible
from xor_tui.cli.main import main
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.rules.diagnosis import diagnose
from xor_tui.core.studies.replay import replay
from xor_tui.core.studies.survey import HALTED, OUTCOMES, SOLVED, STUCK, find_seed, run_survey


@pytest.fixture(scope="module")
def source_survey():
    return run_survey(Config(), 3000, 200, seed=11)


def _sample(r, k=12):
    """Indices covering every outcome and starting case present, halted ones included."""
    picks = []
    for o in range(len(OUTCOMES)):
        picks += torch.nonzero(r.outcome == o).flatten()[: k // 2].tolist()
    for c in range(9):
        picks += torch.nonzero(r.start_case == c).flatten()[:2].tolist()
    return sorted(set(picks))


def test_survey_networks_follow_the_single_run_trajectory_exactly(source_survey):
    r = source_survey
    picks = _sample(r)
    assert any(r.outcome[i] == HALTED for i in picks)
    for i in picks:
        rp = replay(r.scenario_for(i))
        final = rp.final
        for (w, b), (fw, fb) in zip(final.params, r.final_params):
            assert torch.equal(w[0], fw[i]) and torch.equal(b[0], fb[i]), i
        halt = int(r.halt_epoch[i])
        assert (final.halt.epoch if final.halted else -1) == halt
        d0 = diagnose(rp.trace.records[0])
        assert (d0.case or 0) == int(r.start_case[i])


@pytest.mark.parametrize(
    "hidden,output,loss,lr",
    [
        ("leaky_relu:0.1", "sigmoid", "bce", 0.5),
        ("elu", "elu", "bce", 0.1),
        ("relu", "identity", "bce-logits", 0.5),
        ("tanh", "relu", "mse", 0.3),
    ],
)
def test_other_settings_match_single_runs_too(hidden, output, loss, lr):
    config = Config((2,), (parse_activation(hidden), parse_activation(output)), loss, lr)
    r = run_survey(config, 400, 60, seed=2)
    for i in range(0, 400, 37):
        final = replay(r.scenario_for(i)).final
        for (w, b), (fw, fb) in zip(final.params, r.final_params):
            torch.testing.assert_close(w[0], fw[i], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(b[0], fb[i], rtol=1e-5, atol=1e-6)
        assert (final.halt.epoch if final.halted else -1) == int(r.halt_epoch[i])


def test_shares_add_up(source_survey):
    d = source_survey.to_json()
    assert sum(d["init"]["cases"].values()) == pytest.approx(1.0)
    assert sum(d["outcome"].values()) == pytest.approx(1.0)
    for row in d["by_case"].values():
        if row["count"]:
            assert sum(row[o] for o in OUTCOMES) == pytest.approx(1.0)
    assert sum(row["count"] for row in d["by_case"].values()) == d["n"]
    assert all(0 <= v <= 1 for v in d["outcome"].values())
    assert sum(h["count"] for h in d["halt_epochs"]) == int((source_survey.halt_epoch >= 0).sum())


def test_outcomes_are_what_they_say(source_survey):
    r = source_survey
    # a start with a dead output never moves: stuck, unchanged
    dead_out = torch.nonzero(r.output_dead & (r.halt_epoch < 0)).flatten()[:20]
    for i in dead_out.tolist():
        assert r.outcome[i] == STUCK
        for (w, b), (fw, fb) in zip(r.start_params, r.final_params):
            assert torch.equal(w[i], fw[i]) and torch.equal(b[i], fb[i])
    solved = torch.nonzero(r.outcome == SOLVED).flatten()[:5]
    for i in solved.tolist():
        preds = replay(r.scenario_for(i)).final.predictions()
        assert bool((preds[[1, 2]] > 0.5).all() and (preds[[0, 3]] < 0.5).all())


def test_epochs_zero_reports_the_start_only(capsys):
    assert main(["survey", "--n", "500", "--epochs", "0", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["epochs"] == 0 and d["n"] == 500
    assert d["outcome"]["halted"] <= d["init"]["cases"]["none"]
    for key in ("hidden_dead_any", "hidden_dead_all", "output_dead", "cases"):
        assert key in d["init"]
    assert {"seconds", "net_epochs_per_second", "config", "by_case"} <= set(d)


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--n", "0"], "--n must be at least 1"),
        (["--n", "-5"], "--n must be at least 1"),
        (["--hidden", "swish"], "unknown activation"),
        (["--output", "relu:3"], "takes no parameter"),
        (["--lr", "0"], "--lr must be"),
        (["--lr", "-0.1"], "--lr must be"),
        (["--lr", "nan"], "--lr must be"),
        (["--epochs", "-1"], "--epochs must be 0 or more"),
        (["--loss", "hinge"], "unknown loss"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, args, fragment):
    assert main(["survey", *args]) == 2
    assert fragment in capsys.readouterr().err


def test_find_seed_lands_in_the_asked_case():
    from xor_tui.core.engine.run import Run, Start

    for case in range(1, 9):
        seed = find_seed(case)
        assert seed is not None
        assert diagnose(Run(Config(), Start("seed", seed=seed)).current).case == case
    assert find_seed(3, start=find_seed(3) + 1) > find_seed(3)


def test_export_writes_a_replayable_scenario(tmp_path, capsys):
    out = tmp_path / "net.toml"
    assert main(["survey", "--n", "300", "--epochs", "30", "--export", "7", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()  # captured: not a terminal, as when piped
    # long lines stay whole (rich wrapped them at 80 columns when not writing to a terminal)
    assert printed[-1] == f"network 7 saved as {out} (replay it with `xor-tui replay {out}`)"
    assert printed[-2].endswith("network-epochs/s") and " s (training and judging; " in printed[-2]
    assert replay(__import__("xor_tui.core.io.scenario", fromlist=["load"]).load(out)).final.epoch <= 30
    assert main(["survey", "--n", "300", "--epochs", "30", "--export", "7", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


# ---------------------------------------------------------------- hostile flags and targets (issue 8)


def _one_line_exit_2(capsys, argv, fragment):
    assert main(["survey", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--seed", "18446744073709551616"], "--seed must be from 0 to 18446744073709551615"),
        (["--seed", "1" + "0" * 400], "a 401-digit number"),
        (["--n", "9" * 500], "--n must be at most 10,000,000, got a 500-digit number"),
        (["--epochs", "1" + "0" * 300], "--epochs must be at most"),
        (["--lr", "1" + "0" * 400], "--lr must be a finite number"),
        (["--lr", "1e7"], "--lr must be at most 1e6"),
    ],
)
def test_huge_numbers_get_one_line_and_exit_2(capsys, argv, fragment):
    _one_line_exit_2(capsys, argv, fragment)


def test_the_largest_seed_runs(capsys):
    assert main(["survey", "--n", "50", "--epochs", "2", "--seed", str(2**64 - 1), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["seed"] == 2**64 - 1


@pytest.fixture
def no_survey(monkeypatch):
    """Fail if the survey runs: the target must be refused before any work."""
    import xor_tui.cli.survey as cli

    def boom(*a, **k):
        raise AssertionError("the survey ran before the target was checked")

    monkeypatch.setattr(cli, "run_survey", boom)


def test_export_target_is_checked_before_the_survey(tmp_path, capsys, no_survey):
    existing = tmp_path / "there.toml"
    existing.write_text("x")
    _one_line_exit_2(capsys, ["--export", "1", str(existing)], "already exists; pass --force")
    assert existing.read_text() == "x"
    _one_line_exit_2(capsys, ["--export", "1", str(tmp_path / "no" / "such" / "n.toml")], "no such folder")
    _one_line_exit_2(capsys, ["--export", "1", str(tmp_path)], "is a folder")
    _one_line_exit_2(capsys, ["--export", "1", str(tmp_path) + "/"], "names a folder")
    _one_line_exit_2(capsys, ["--export", "1", ""], "the file name is empty")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _one_line_exit_2(capsys, ["--export", "1", str(fifo), "--force"], "not a regular file")
    dangling = tmp_path / "link.toml"
    dangling.symlink_to(tmp_path / "missing.toml")
    _one_line_exit_2(capsys, ["--export", "1", str(dangling)], "already exists")


@pytest.mark.parametrize("hidden", ["relu", "elu"], ids=["fast path", "torch engine"])
def test_ctrl_c_stops_a_large_survey_promptly_in_one_line(tmp_path, hidden):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "net.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "xor_tui", "survey", "--n", "3000000", "--epochs", "5000", "--hidden", hidden]
        + ["--export", "3", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    time.sleep(6)  # imports, then well inside the training
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    waited = time.monotonic() - sent
    assert proc.returncode == 130
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert lines == ["xor-tui: survey interrupted (Ctrl-C); nothing was written"]
    assert not out.exists()
    print(f"stopped {waited:.2f} s after Ctrl-C")
