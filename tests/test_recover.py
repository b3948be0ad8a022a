"""Recovering a float32 start from a printout, and saying so when it cannot."""

import io
from contextlib import redirect_stderr, redirect_stdout

from tests import printouts
from xor_tui.cli.main import main
from xor_tui.core.io import printout
from xor_tui.core.studies import recover


def test_interval_of_printed_text_is_what_torch_would_print_so():
    assert recover.interval("0.5886") == (0.58855, 0.58865)
    lo, hi = recover.interval("-1.7142e-05")
    assert lo == -1.71425e-05 and hi == -1.71415e-05
    assert recover.interval("0.") == (0.0, 0.0)
    lo, hi = recover.interval("-0.0000")
    assert lo == -5e-05 and hi == 0.0


def _impossible():
    """The source's run 1 with its epoch-199 loss changed: nothing moves there, so no start prints it."""
    text = printouts.SEED.joinpath("printouts.txt").read_text()
    head = text.split("\n# run 2")[0]
    return head[: head.rindex("loss: 50.0")] + "loss: 50.5\n"


def test_says_how_much_it_reproduced_when_no_start_reproduces_everything():
    (run,) = printout.parse_log(_impossible())
    rec = recover.recover(run, 0.001, time_limit=1.0)
    assert not rec.complete and (rec.reproduced, rec.total) == (67, 68)
    assert rec.worst_text() == "epoch 199 loss: printed loss: 50.5, replay gives loss: 50.0"


def test_import_exits_1_and_names_the_worst_value(tmp_path, monkeypatch):
    monkeypatch.setattr(recover, "SEARCH_LIMIT", 1.0)
    log = tmp_path / "bad.log"
    log.write_text(_impossible())
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["import", str(log), "--out", str(tmp_path)])
    assert code == 1
    assert "67/68 printed values reproduced, worst: epoch 199 loss" in out.getvalue()
    text = (tmp_path / "bad-run1.toml").read_text()
    assert "reproduces 67 of the 68 printed values" in text and "# Worst: epoch 199 loss" in text
