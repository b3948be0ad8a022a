"""`xor-tui import LOG`: printouts made by the student's own loop, and the source's, as scenarios."""

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout

import pytest

from tests import printouts
from xor_tui.cli.main import main
from xor_tui.core.io.scenario import load
from xor_tui.core.studies import recover
from xor_tui.core.studies.replay import replay


def _import(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["import", *args])
    return code, out.getvalue(), err.getvalue()


# (seed of the start, lr, epochs, which epochs are printed): a full printout, every 10th epoch, and
# two that crash (at epoch 1 and at epoch 74); first-and-last-only is the source's own layout, below
GENERATED = [
    (1, 0.05, 20, "all"),
    (3, 0.5, 100, "tenth"),
    (11, 0.05, 120, "tenth"),
]


@pytest.mark.parametrize(("seed", "lr", "epochs", "shown"), GENERATED)
def test_import_recovers_the_rate_and_a_start_that_reprints_every_block(tmp_path, seed, lr, epochs, shown):
    text = printouts.run(lr, epochs, seed=seed)
    if shown == "ends":
        text = printouts.keep(text, {0})
    elif shown == "tenth":
        text = printouts.keep(text, set(range(0, epochs, 10)))
    log = tmp_path / "mine.log"
    log.write_text("my homework\n" + text + "\nthe end\n")
    code, out, err = _import(str(log), "--out", str(tmp_path), "--json")
    assert code == 0, err
    (run,) = json.loads(out)["runs"]
    assert abs(run["lr"] / lr - 1) < 0.01
    assert run["reproduced"] == run["total"]
    printed = [e for e, _ in printouts.blocks(text)]
    assert run["printed_epochs"] == printed
    assert (run["halt"] is not None) == ("RuntimeError" in text)
    # the scenario replays every printed block as printed (the last line of a crash included)
    sc = load(run["scenario"])
    rp = replay(sc)
    assert not rp.failed
    from xor_tui.core.io.printout import epoch_lines

    for epoch, block in printouts.blocks(text):
        ours = epoch_lines(rp.trace.records[epoch])
        theirs = [line for line in block if line.strip() not in ("", "...", "the end")]
        if "Traceback (most recent call last):" in theirs:
            theirs = theirs[: theirs.index("Traceback (most recent call last):")] + theirs[-1:]
        # a loss may be matched within 1e-6 instead of exactly (many printed losses)
        assert ours[:-1] == theirs[:-1]
        if ours[-1] != theirs[-1]:
            a, b = float(ours[-1][6:]), float(theirs[-1][6:])
            assert abs(a - b) <= 1e-6 * abs(b)


def _source_runs(numbers):
    """The source's printouts.txt, keeping only the given runs (and the prose around them)."""
    text = (printouts.SEED / "printouts.txt").read_text()
    parts = text.split("\n# run ")
    return parts[0] + "".join("\n# run " + p for p in parts[1:] if int(p.split("\n")[0]) in numbers)


def test_import_the_sources_printouts(tmp_path):
    # three of the eight runs, to keep the tests quick: benchmarks/recover_cases.py recovers all
    # eight, and test_printout checks that the built-in cases' starts reprint all eight exactly
    log = tmp_path / "source.txt"
    log.write_text(_source_runs({1, 5, 6}))
    code, out, err = _import(str(log), "--out", str(tmp_path))
    assert code == 0, err
    *lines, summary = out.splitlines()
    assert len(lines) == 3 and summary == "wrote 3 of 3 run(s)."
    for line, case in zip(lines, (1, 5, 6)):
        assert f"case {case} at epoch 0" in line and "68/68 printed values reproduced" in line
        assert "lr 0.001" in line and "no halt" in line
    assert "assumed 0.001" in lines[0]  # nothing moves in run 1: the printout does not show the rate
    assert "inferred" in lines[2]
    sc = load(tmp_path / "source-run3.toml")  # named after the run's place in the log: the source's run 6
    rp = replay(sc)
    assert rp.final.epoch == 200 and not rp.failed  # 200 updates: the source ran epochs 0..199


def test_the_app_can_load_a_logs_first_run(tmp_path):
    log = tmp_path / "crash.log"
    log.write_text(printouts.run(0.5, 20, seed=3))  # crashes at epoch 1
    sc = recover.load_log(log)
    assert sc.name == "crash-run1" and sc.epochs == 2 and sc.config.lr == 0.5
    rp = replay(sc)
    assert rp.final.halted and rp.final.epoch == 1 and not rp.failed
    with pytest.raises(ValueError, match="there is no run 2"):
        recover.load_log(log, run=2)


def _noise(size) -> bytes:
    """Printable noise made of the printout's own characters."""
    import random

    alphabet = b"abc def#\n.0123456789[](),:-"
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    return random.Random(1).randbytes(size).translate(table)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.log", b"", "no printout found"),
        ("prose.log", b"no printout here\n# just prose\n", "no printout found"),
        (
            "truncated.log",
            (printouts.header(0) + "\nhide activate input: tensor([[0.3926, 0.5016],\n        [0.9581,").encode(),
            "line 2",
        ),
        ("header.log", (printouts.header(0) + "\nand then nothing\n").encode(), "line 2"),
        ("noise.log", None, "no printout found"),
        ("binary.log", bytes(range(256)) * 64, "not a text file"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, name, content, words):
    log = tmp_path / name
    log.write_bytes(_noise(10_000_000) if content is None else content)
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = _import(str(log), "--out", str(out))
    assert code == 2
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert os.listdir(out) == []


def test_never_overwrites_without_force(tmp_path):
    log = tmp_path / "r.log"
    log.write_text(_source_runs({1}))
    target = tmp_path / "r-run1.toml"
    target.write_text("mine\n")
    code, _, err = _import(str(log), "--out", str(tmp_path))
    assert code == 2 and "already exists" in err and target.read_text() == "mine\n"
    code, _, err = _import(str(log), "--out", str(tmp_path), "--force")
    assert code == 0 and load(target).start.values["output.bias"] != [-0.5111]
    code, _, err = _import(str(log), "--out", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_special_files_are_refused_before_a_byte_is_read(tmp_path, kind):
    """A FIFO would hang a read, /dev/zero would grow without end: both are refused by what they are."""
    if kind == "fifo":
        log = tmp_path / "pipe.log"
        os.mkfifo(log)
        words = "FIFO"
    elif kind == "device":
        log, words = "/dev/zero", "character device"
    else:
        log, words = tmp_path, "directory"
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = _import(str(log), "--out", str(out))
    assert code == 2
    assert words in err and err.count("\n") == 1
    assert os.listdir(out) == []
