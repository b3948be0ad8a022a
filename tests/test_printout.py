"""The student's printout: ours equals the student's loop's, line for line; reading printouts back."""

import io
import tomllib
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch

from tests import printouts
from xor_tui.cli.main import main
from xor_tui.core.io import printout
from xor_tui.core.io.scenario import builtin

SOURCE = (printouts.SEED / "printouts.txt").read_text()


def _ours(scenario_text: str, tmp_path) -> list[str]:
    p = tmp_path / "s.toml"
    p.write_text(scenario_text)
    buf = io.StringIO()
    with redirect_stdout(buf):
        main(["replay", str(p), "--format", "seed"])
    return buf.getvalue().splitlines()


def _student(lr, epochs, **start) -> list[str]:
    """The loop's output; a crash's traceback shortened to its last line, as we print it."""
    lines = printouts.run(lr, epochs, **start).splitlines()
    if "Traceback (most recent call last):" in lines:
        lines = lines[: lines.index("Traceback (most recent call last):")] + lines[-1:]
    return lines


@pytest.mark.parametrize(
    ("seed", "lr", "epochs"),
    [(6, 0.01, 12), (3, 0.5, 5), (11, 0.05, 80)],  # the last two crash, at epochs 1 and 74
)
def test_seed_format_is_what_the_students_loop_prints(tmp_path, seed, lr, epochs):
    sc = f'name = "t"\nepochs = {epochs}\n[training]\nlr = {lr}\n[start]\nseed = {seed}\n'
    theirs = _student(lr, epochs, seed=seed)
    assert _ours(sc, tmp_path) == theirs
    assert theirs[0] == "##########################epoches: 0 ##############################"


def test_seed_format_with_a_given_start_and_a_crash(tmp_path):
    start = {"hide.weight": [[0.188, 0.024], [0.5288, -0.0574]], "hide.bias": [0.5341, -0.1522],
             "out.weight": [[-0.3837, 0.6579]], "out.bias": [0.5037]}  # fmt: skip
    sc = 'name = "t"\nepochs = 40\n[training]\nlr = 0.1\n[start.params]\n' + "".join(
        f'"{k.replace("hide", "hidden").replace("out.", "output.")}" = {v}\n' for k, v in start.items()
    )
    theirs = _student(0.1, 40, start=start)
    assert _ours(sc, tmp_path) == theirs
    assert theirs[-1] == "RuntimeError: all elements of input should be between 0 and 1"
    last = theirs[len(theirs) - 1 - theirs[::-1].index(printout.header(30)) :]
    assert not any(line.startswith("loss:") for line in last)  # the crashed epoch prints no loss


def _source_blocks():
    lines = SOURCE.splitlines()
    for run in printout.parse_log(SOURCE):
        for b in run.blocks:
            end = b.line - 1
            while not lines[end].startswith(("loss:", "RuntimeError:")):
                end += 1
            yield run.number, b.epoch, lines[b.line - 1 : end + 1]


def test_builtin_cases_print_the_sources_blocks_character_for_character():
    checked = 0
    runs = {}
    for case, epoch, src in _source_blocks():
        run = runs.setdefault(case, builtin(f"case{case}").new_run())
        while run.epoch < epoch and not run.halted:
            run.step()
        assert run.epoch == epoch
        assert printout.epoch_lines(run.current) == src, (case, epoch)
        checked += len(printout.parse_lines(src).entries())
    assert checked == 8 * 2 * 34  # 544 printed values, every one reproduced
    assert runs[7].halted and runs[7].epoch == 98


@pytest.mark.parametrize("lines", [[], ["hide activate input: tensor([[0.]])"], ["epoches: 3"]])
def test_a_block_without_its_header_is_refused_in_one_line(lines):
    """parse_lines names the missing header (it was an AttributeError on the None of a failed match,
    or an IndexError for no lines)."""
    with pytest.raises(printout.PrintoutError, match=r"^line 1: expected a block's '####...epoches: N' header line$"):
        printout.parse_lines(lines)
    good = printout.epoch_lines(builtin("case3").new_run().current)
    assert printout.parse_lines(good).epoch == 0


def test_builtin_starts_are_exact_float32_values():
    for k in range(1, 9):
        data = tomllib.loads((printouts.SEED.parent.parent / "xor_tui" / "scenarios" / f"case{k}.toml").read_text())
        for values in data["start"]["params"].values():
            flat = torch.tensor(values, dtype=torch.float64).flatten().tolist()
            for v in flat:
                assert float(torch.tensor(v, dtype=torch.float32)) == v
        exact = [e for e in data["expect"] if "loss" in e]
        assert exact and all(e["tolerance"] == 0.0 for e in exact)


def test_reads_the_sources_printouts():
    runs = printout.parse_log(SOURCE)
    assert [r.epochs for r in runs] == [[0, 199]] * 6 + [[0, 98], [0, 199]]
    assert [r.halt is not None for r in runs] == [False] * 6 + [True, False]
    assert runs[6].halt.halt == "all elements of input should be between 0 and 1"
    assert runs[2].blocks[1].loss == 0.699190080165863
    assert runs[7].blocks[1].tensors["hide.bias"].texts == ("-7.6483e-02", "-1.7142e-05")  # scientific
    assert runs[0].blocks[0].activation_names() == ("relu", "relu")
    assert runs[0].total == 68


def test_finds_printouts_amid_prose_code_elisions_and_tracebacks():
    one = printouts.run(0.5, 5, seed=3)  # crashes at epoch 1, with a traceback
    two = printouts.keep(printouts.run(0.01, 30, seed=6), {0, 10})
    text = (
        "实验结果如下：\n```python\n"
        + "print('##########################epoches:', i, '##############################')\n```\n"
        + one
        + "\n可以看到……\n"
        + two.replace("\n", "\r\n")
        + "\n...\n结论。\n"
    )
    runs = printout.parse_log(text)
    assert [r.epochs for r in runs] == [[0, 1], [0, 10, 29]]
    assert runs[0].halt is not None and runs[1].halt is None
    assert printout.decode_log(text.encode("utf-16")) == text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no printout found"),
        ("hello\nworld\n", "no printout found"),
        ("##########################epoches: 0 ##############################\n", "line 1"),
        (printout.header(0) + "\nhide activate input: tensor([[0.1, 0.2],\n", "not closed"),
    ],
)  # fmt: skip
def test_bad_printouts_say_which_line(text, words):
    with pytest.raises(printout.PrintoutError) as info:
        printout.parse_log(text)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_run_must_start_at_epoch_0():
    text = printouts.run(0.01, 1, seed=6).replace("epoches: 0 ", "epoches: 3 ")
    with pytest.raises(printout.PrintoutError) as info:
        printout.parse_log("intro\n" + text)
    assert str(info.value).startswith("line 2: epoch 3 is printed before any epoch 0")


def test_builtin_cases_carry_the_sources_printed_blocks_and_replay_checks_them():
    from xor_tui.core.io.scenario import builtin, dumps, parse
    from xor_tui.core.studies.replay import replay

    source = (Path(__file__).parent / "seed" / "printouts.txt").read_text()
    for k in range(1, 9):
        sc = builtin(f"case{k}")
        printed = [e for e in sc.expect if e.printed is not None]
        assert [e.epoch for e in printed] == ([0, 98] if k == 7 else [0, 199])
        for e in printed:
            assert e.printed in source  # verbatim from the source's printouts
        assert all(v.ok for v in replay(sc).verdicts)
        assert parse(dumps(sc)).expect == sc.expect  # saved and read back whole
    # one digit off in a printed block is a failed expectation that names the line
    sc = builtin("case7")
    bad = parse(dumps(sc).replace("[2.9508]], grad_fn=<ReluBackward0>", "[2.9509]], grad_fn=<ReluBackward0>"))
    failed = [v for v in replay(bad).verdicts if not v.ok]
    assert len(failed) == 1 and failed[0].expectation.epoch == 98
    assert "printed line 17: expected '        [2.9509]], grad_fn=<ReluBackward0>)'" in failed[0].failures[0]
