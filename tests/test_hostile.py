"""Every hostile input of tests/hostile.py is refused by the command line with exit 2 and
exactly one line on stderr: no traceback, no hang, no raw escape sequence, nothing written."""

import os
import stat
import warnings

import pytest

from tests import hostile
from tests.conftest import COUNTS
from xor_tui.cli.main import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return hostile.build(tmp_path_factory.mktemp("hostile"))


def _one_line_refusal(capsys, argv):
    with warnings.catch_warnings(record=True) as caught, pytest.raises(SystemExit) as info:
        warnings.simplefilter("always")
        raise SystemExit(main(argv))
    out, err = capsys.readouterr()
    # a warning would be a second stderr line in a real run (pytest captures it apart)
    err += "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
    return info.value.code, out, err


def test_every_hostile_input_gets_exit_2_and_one_line(corpus, capsys):
    problems = []
    for kind, label, argv in corpus:
        COUNTS[f"hostile CLI inputs: {kind}"] += 1
        code, out, err = _one_line_refusal(capsys, argv)
        lines = err.splitlines()
        if code != 2 or len(lines) != 1 or "Traceback" in err or "\x1b" in err + out or "\x07" in err + out:
            problems.append(f"{kind} / {label}: exit {code}, stderr {err[:300]!r}")
    assert problems == []


def test_no_write_target_is_replaced_or_created(tmp_path, capsys):
    corpus = hostile.build(tmp_path)
    for kind, label, argv in corpus:
        if kind == "write target":
            assert main(argv) == 2, label
    folder = tmp_path / "out"
    assert stat.S_ISFIFO(os.lstat(folder / "fifo.csv").st_mode)
    assert os.path.islink(folder / "dangling.csv") and not (folder / "nowhere.csv").exists()
    assert (folder / "exists.csv").read_text() == "keep"
    if os.geteuid() == 0:
        assert stat.S_ISCHR(os.lstat(folder / "null.csv").st_mode)
    expected = {"fifo.csv", "dangling.csv", "exists.csv"} | ({"null.csv"} if os.geteuid() == 0 else set())
    assert set(os.listdir(folder)) == expected
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    "label,fragment",
    [
        ("training.lr", "training.lr: expected a number"),
        ("start.seed", "start.seed: expected a whole number from 0 to"),
        ("script.value", "script[0].value: expected a number"),
        ("5000-digit integer", "an integer of more than 4,300 digits"),
    ],
)
def test_huge_integers_name_the_field(tmp_path, capsys, label, fragment):
    p = tmp_path / "big.toml"
    p.write_text(hostile.NUMERIC_FIELDS[label])
    code, _, err = _one_line_refusal(capsys, ["replay", str(p)])
    assert code == 2 and fragment in err and "digit" in err


def test_escape_sequences_are_shown_escaped(tmp_path, capsys):
    p = tmp_path / "esc.toml"
    p.write_text(hostile.GOOD + '"\\u001b]0;pwned\\u0007\\nnext" = 1\n')
    code, _, err = _one_line_refusal(capsys, ["replay", str(p)])
    assert code == 2 and "\\x1b]0;pwned\\x07\\nnext: unknown key" in err and err.count("\n") == 1
    # a valid scenario whose name holds escapes is replayed, its name shown escaped
    p.write_text(hostile.GOOD.replace('name = "ok"', 'name = "\\u001b[2Jcleared"'))
    assert main(["replay", str(p)]) == 0
    out = capsys.readouterr().out
    assert "\\x1b[2Jcleared" in out and "\x1b" not in out


def test_echoed_input_is_capped(tmp_path, capsys):
    p = tmp_path / "long.toml"
    p.write_text(hostile.TOML["900 KB activation name"])
    code, _, err = _one_line_refusal(capsys, ["replay", str(p)])
    assert code == 2 and len(err) < 1000 and "unknown activation" in err


def test_argparse_errors_are_one_line(capsys):
    code, _, err = _one_line_refusal(capsys, ["replay", "case1", "--epochs", "many"])
    assert code == 2 and err.count("\n") == 1 and "invalid int value" in err and "--help" in err


def test_special_files_are_refused_by_kind(tmp_path, capsys):
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    assert main(["replay", str(fifo)]) == 2
    assert "is a FIFO (named pipe), not a regular file" in capsys.readouterr().err
    assert main(["replay", "/dev/zero"]) == 2
    assert "is a character device, not a regular file" in capsys.readouterr().err
    assert main(["replay", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_a_pt_file_given_to_replay_says_how_to_use_it(tmp_path, capsys):
    import torch

    torch.save(hostile._state_dict(), tmp_path / "w.pt")
    assert main(["replay", str(tmp_path / "w.pt")]) == 2
    assert "[start] state_dict" in capsys.readouterr().err


def test_a_state_dict_path_that_is_a_fifo_or_folder_says_so(tmp_path, capsys):
    os.mkfifo(tmp_path / "p.pt")
    (tmp_path / "s.toml").write_text('name = "x"\n[start]\nstate_dict = "p.pt"\n')
    assert main(["replay", str(tmp_path / "s.toml")]) == 2
    assert "start.state_dict" in (err := capsys.readouterr().err) and "FIFO" in err
    (tmp_path / "s.toml").write_text('name = "x"\n[start]\nstate_dict = "."\n')
    assert main(["replay", str(tmp_path / "s.toml")]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_a_bom_is_accepted(tmp_path, capsys):
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + hostile.GOOD.encode())
    assert main(["replay", str(p)]) == 0


def test_a_duplicated_dead_unit_is_refused(tmp_path, capsys):
    p = tmp_path / "dup.toml"
    p.write_text(hostile.TOML["duplicated expect.dead"])
    assert main(["replay", str(p)]) == 2
    assert "expect[0].dead[1]: 'hidden[0]' is listed twice" in capsys.readouterr().err
