"""A corpus of hostile inputs for the command line, generated into a folder (never committed).

Each entry is (kind, label, argv): argv for ``xor-tui``; every one must be refused with
exit status 2 and exactly one line on stderr. Used by tests/test_hostile.py and by
benchmarks/hostile_table.py (which also runs each through a subprocess and measures it).
"""

from __future__ import annotations

import contextlib
import os
import stat
import warnings
from pathlib import Path

import torch

GOOD = """name = "ok"
epochs = 3
[network]
hidden = [2]
activations = ["relu", "relu"]
[training]
loss = "bce"
lr = 0.001
[start]
seed = 1
"""

HUGE = "1" + "0" * 400  # an integer far beyond any float
ESC = "\x1b]0;pwned\x07\x1b[2J"

# numeric fields where a huge integer must be refused with a message, not OverflowError
NUMERIC_FIELDS = {
    "epochs": GOOD.replace("epochs = 3", f"epochs = {HUGE}"),
    "training.lr": GOOD.replace("lr = 0.001", f"lr = {HUGE}"),
    "training.weight_decay": GOOD.replace("lr = 0.001", f"lr = 0.001\nweight_decay = {HUGE}"),
    "training.layer_lr": GOOD.replace("lr = 0.001", f"lr = 0.001\nlayer_lr = [{HUGE}, 1]"),
    "network.hidden": GOOD.replace("hidden = [2]", f"hidden = [{HUGE}]"),
    "start.seed": GOOD.replace("seed = 1", f"seed = {HUGE}"),
    "start.params": GOOD.replace(
        "seed = 1",
        f'[start.params]\n"hidden.weight" = [[{HUGE}, 0.0], [0.0, 0.0]]\n"hidden.bias" = [0.0, 0.0]\n'
        '"output.weight" = [[0.0, 0.0]]\n"output.bias" = [0.0]',
    ),
    "script.value": GOOD + f'[[script]]\nepoch = 1\nset = "output.bias[0]"\nvalue = -{HUGE}\n',
    "script.lr": GOOD + f"[[script]]\nepoch = 1\nlr = {HUGE}\n",
    "script.reseed": GOOD + f"[[script]]\nepoch = 1\nreseed = {HUGE}\n",
    "expect.loss": GOOD + f"[[expect]]\nepoch = 1\nloss = {HUGE}\n",
    "expect.tolerance": GOOD + f"[[expect]]\nepoch = 1\nloss = 1.0\ntolerance = {HUGE}\n",
    "5000-digit integer": GOOD.replace("lr = 0.001", "lr = 1" + "0" * 5000),
}

TOML = {
    "100,000-part dotted key": "a" + ".a" * 100_000 + " = 1\n",
    "499,000-part table header": "[" + ".".join(["a"] * 499_000) + "]\n",
    "arrays nested 3,000 deep": 'name = "x"\nepochs = ' + "[" * 3000 + "1" + "]" * 3000 + "\n",
    "inline tables nested 3,000 deep": 'name = "x"\nnetwork = ' + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "escape sequence in a key": GOOD + f'"{ESC}" = 1\n'.replace("\x1b", "\\u001b").replace("\x07", "\\u0007"),
    "newlines in a key": GOOD + '"a\\nb\\nc" = 1\n',
    "900 KB activation name": GOOD.replace('["relu", "relu"]', '["' + "x" * 900_000 + '", "relu"]'),
    "escape sequence in an activation": GOOD.replace('["relu", "relu"]', '["\\u001b[2Jrelu", "relu"]'),
    "duplicated expect.dead": GOOD + '[[expect]]\nepoch = 0\ndead = ["hidden[0]", "hidden[0]"]\n',
    "file over 1 MB": GOOD + "# " + "x" * 1_100_000 + "\n",
    "not UTF-8": None,  # bytes, below
}


def _state_dict(**over) -> dict:
    sd = {
        "hidden.weight": torch.zeros(2, 2),
        "hidden.bias": torch.zeros(2),
        "output.weight": torch.zeros(1, 2),
        "output.bias": torch.zeros(1),
    }
    sd.update(over)
    return sd


def pt_files() -> dict:
    """label -> object for torch.save; each must be refused before its data is touched."""
    sparse = torch.zeros(2, 2).to_sparse()
    out = {
        "expanded 50,000,000 elements (2.5 KB file)": _state_dict(**{"hidden.bias": torch.zeros(1).expand(50_000_000)}),
        "expanded 300,000,000 elements": _state_dict(**{"hidden.bias": torch.zeros(1).expand(300_000_000)}),
        "sparse tensor": _state_dict(**{"hidden.weight": sparse}),
        "complex dtype": _state_dict(**{"hidden.bias": torch.zeros(2, dtype=torch.complex64)}),
        "integer dtype": _state_dict(**{"hidden.bias": torch.zeros(2, dtype=torch.int64)}),
        "bool dtype": _state_dict(**{"hidden.bias": torch.zeros(2, dtype=torch.bool)}),
        "4-dimensional": _state_dict(**{"hidden.weight": torch.zeros(1, 1, 2, 2)}),
        "hide.* and hidden.* both": {**_state_dict(), "hide.weight": torch.ones(2, 2)},
        "1,000 entries": {f"k{i}": torch.zeros(1) for i in range(1000)},
        "a list, not a dict": [torch.zeros(2)],
    }
    with warnings.catch_warnings():  # torch calls these deprecated or prototype
        warnings.simplefilter("ignore")
        with contextlib.suppress(RuntimeError):  # a build without quantized kernels
            out["quantized tensor"] = _state_dict(
                **{"hidden.bias": torch.quantize_per_tensor(torch.zeros(2), 0.1, 0, torch.quint8)}
            )
        with contextlib.suppress(RuntimeError):
            out["nested tensor"] = _state_dict(**{"hidden.bias": torch.nested.nested_tensor([torch.zeros(2)])})
    out["meta device"] = _state_dict(**{"hidden.bias": torch.zeros(2, device="meta")})
    return out


def build(folder: Path) -> list[tuple[str, str, list[str]]]:
    """Write the corpus into ``folder``; return (kind, label, argv) for each input."""
    folder = Path(folder)
    cases: list[tuple[str, str, list[str]]] = []

    def toml(kind, label, text, raw=None):
        p = folder / f"{kind[:4]}-{len(cases)}.toml"
        p.write_bytes(raw if raw is not None else text.encode("utf-8"))
        cases.append((kind, label, ["replay", str(p)]))

    for label, text in NUMERIC_FIELDS.items():
        toml("huge integer", label, text)
    for label, text in TOML.items():
        toml("TOML", label, text, raw=b'name = "\xff\xfe"\n' if text is None else None)

    # special files given as a scenario
    fifo = folder / "fifo.toml"
    os.mkfifo(fifo)
    cases.append(("special file", "FIFO as scenario", ["replay", str(fifo)]))
    cases.append(("special file", "/dev/zero as scenario", ["replay", "/dev/zero"]))
    cases.append(("special file", "directory as scenario", ["replay", str(folder)]))
    loop = folder / "loop.toml"
    os.symlink(loop, loop)
    cases.append(("special file", "symlink loop as scenario", ["replay", str(loop)]))
    dangling = folder / "dangling.toml"
    os.symlink(folder / "nowhere.toml", dangling)
    cases.append(("special file", "dangling symlink as scenario", ["replay", str(dangling)]))
    pt = folder / "weights.pt"
    torch.save(_state_dict(), pt)
    cases.append(("special file", ".pt given to replay", ["replay", str(pt)]))
    esc = folder / f"name{ESC}.toml"
    cases.append(("special file", "missing file with escapes in its name", ["replay", str(esc)]))

    # .pt files as a scenario's start
    for label, obj in pt_files().items():
        p = folder / f"pt-{len(cases)}.pt"
        torch.save(obj, p)
        toml(".pt file", label, f'name = "pt"\n[start]\nstate_dict = "{p.name}"\n')
    for label, target in (("FIFO as state_dict", "fifo.toml"), ("directory as state_dict", ".")):
        toml(".pt file", label, f'name = "pt"\n[start]\nstate_dict = "{target}"\n')

    # write targets for --csv
    good = folder / "good.toml"
    good.write_text(GOOD)
    sub = folder / "out"
    sub.mkdir()
    exists = sub / "exists.csv"
    exists.write_text("keep")
    wfifo = sub / "fifo.csv"
    os.mkfifo(wfifo)
    wdangling = sub / "dangling.csv"
    os.symlink(sub / "nowhere.csv", wdangling)
    targets = {}
    if os.geteuid() == 0:  # a device of our own (a copy of /dev/null): the real one is never at risk
        dev = sub / "null.csv"
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets["character device with --force"] = (str(dev), True)
    targets |= {
        "FIFO with --force": (str(wfifo), True),
        "FIFO": (str(wfifo), False),
        "directory with --force": (str(sub), True),
        "dangling symlink": (str(wdangling), False),
        "dangling symlink with --force": (str(wdangling), True),
        'empty name ""': ("", False),
        "trailing slash": (str(sub / "x.csv") + "/", False),
        "missing folder": (str(folder / "missing" / "x.csv"), False),
        "existing file without --force": (str(exists), False),
        "256-character name": (str(sub / ("n" * 252 + ".csv")), False),
    }
    for label, (target, force) in targets.items():
        cases.append(("write target", label, ["replay", str(good), "--csv", target, *(["--force"] if force else [])]))

    # options
    for label, argv in {
        "unknown option": ["replay", "case1", "--colour"],
        "--epochs not a number": ["replay", "case1", "--epochs", "many"],
        "--epochs 10**400": ["replay", "case1", "--epochs", HUGE],
        "--epochs -1": ["replay", "case1", "--epochs", "-1"],
        "--epochs past the limit": ["replay", "case1", "--epochs", "1000001"],
        "unknown scenario with escapes": ["replay", f"case{ESC}"],
        "unknown command": ["frobnicate"],
        "--seed 2**64": ["--seed", "18446744073709551616"],
        "--seed and --scenario": ["--seed", "1", "--scenario", "case1"],
    }.items():
        cases.append(("option", label, argv))
    return cases


# ---------------------------------------------------------------- printout logs for `import` and `f`

SEED_LOG = Path(__file__).parent / "seed" / "printouts.txt"


def source_run(k: int) -> str:
    """Run k of the source's printouts (its two printed blocks, '...' between), without the prose."""
    part = SEED_LOG.read_text().split("\n# run ")[k]
    return part.split("\n", 1)[1].strip("\n") + "\n"


def with_last_epoch(text: str, epoch: int) -> str:
    """A run's printout with its last block's header saying ``epoch`` (an absurd length of run)."""
    head, sep, tail = text.rpartition("epoches: ")
    return head + sep + f"{epoch} " + tail.split(" ", 1)[1]


def slow_log() -> str:
    """One run whose rate inference must train 1,000,000 epochs: longer than any budget here."""
    return with_last_epoch(source_run(3), 999_999)


def absurd_epochs_log(last: int = 999_999) -> str:
    """Three runs; the second's last block says epoch ``last``."""
    return source_run(1) + "\nprose\n" + with_last_epoch(source_run(3), last) + "\nprose\n" + source_run(5)


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def _replace_first(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


RANGE, NOT_FINITE, TOO_LONG = "beyond float32's range", "is not finite", "too long for a printed number"


def overflow_logs() -> dict[str, tuple[str, int, str]]:
    """label -> (log text, the line the refusal must name, words it must say): values a float32
    cannot hold."""
    base = source_run(3)
    weight = "0.4720"  # hide.weight[0][0] at epoch 0, on the state dict's first line
    loss = "loss: 0.7732471823692322"
    out: dict[str, tuple[str, int, str]] = {}
    for label, value, words in [
        ("weight 1.0e400", "1.0e400", RANGE),
        ("weight 0.0e400", "0.0e400", RANGE),
        ("weight 1e39", "1e39", RANGE),
        ("weight -3.5e38", "-3.5e38", RANGE),
        ("weight with a 5,000-digit exponent", "1.0e" + "9" * 5000, TOO_LONG),
        ("weight of 5,000 digits", "1" + "0" * 4999 + ".", TOO_LONG),
        ("weight nan", "nan", NOT_FINITE),
        ("weight -inf", "-inf", NOT_FINITE),
    ]:
        out[label] = (_replace_first(base, weight, value), _line_of(base, weight), words)
    for label, value, words in [
        ("loss nan", "loss: nan", NOT_FINITE),
        ("loss inf", "loss: inf", NOT_FINITE),
        ("loss 1e400", "loss: 1e400", RANGE),
        ("loss of 5,000 digits", "loss: " + "7" * 5000, TOO_LONG),
    ]:
        out[label] = (_replace_first(base, loss, value), _line_of(base, loss), words)
    act = "[1.1280, 0.3284]"  # in 'hide activate input', its second line
    out["activation 1e39 on a continuation line"] = (
        _replace_first(base, act, "[1e39, 0.3284]"),
        _line_of(base, act),
        RANGE,
    )
    return out


def quadratic_log(size: int = 600_000) -> str:
    """The source's run 7 (a crash) with lines built to make backtracking regexes slow: a traceback
    line of spaces before its RuntimeError (the error regex took 13 s on 40 KB), and prose lines
    of spaces, '#', quotes and parentheses around it."""
    run7 = source_run(7)
    crash = "RuntimeError: all elements"
    bad = "ValueError: " + " " * size + "x\n"
    body = run7.replace(crash, "Traceback (most recent call last):\n" + bad + crash, 1)
    prose = [
        " " * size + "x",
        "#" * size + " epoches: 1 " + " " * size + "x",
        "loss: " + "a " * (size // 2),
        "OrderedDict([('hide.weight', tensor(" * (size // 40),
        "'" + "a" * size,
        "grad_fn=<" + "a" * size,
        "(" * size,
    ]
    return "\n".join(prose) + "\n" + body


def cap_logs() -> dict[str, tuple[str, str]]:
    """label -> (log text, words of its one-line refusal): the caps on size, runs and printed epochs."""
    from xor_tui.core.io import printout

    one = source_run(1).split("...")[0]  # a run printed at epoch 0 only
    compact = (
        printout.header(0)
        + "\nhide activate input: tensor([[0.,0.],[0.,0.],[0.,0.],[0.,0.]],grad_fn=<AddmmBackward0>)"
        + "\nhide activate output: tensor([[0.,0.],[0.,0.],[0.,0.],[0.,0.]],grad_fn=<ReluBackward0>)"
        + "\nout activate input: tensor([[0.],[0.],[0.],[0.]],grad_fn=<AddmmBackward0>)"
        + "\nout activate output: tensor([[0.],[0.],[0.],[0.]],grad_fn=<ReluBackward0>)"
        + "\nOrderedDict([('hide.weight', tensor([[0.,0.],[0.,0.]])), ('hide.bias', tensor([0.,0.])), "
        "('out.weight', tensor([[0.,0.]])), ('out.bias', tensor([0.]))])\nloss: 50.0\n"
    )
    many_epochs = compact + "".join(
        compact.replace("epoches: 0 ", f"epoches: {e} ") for e in range(1, printout.MAX_BLOCKS + 1)
    )
    return {
        f"{printout.MAX_RUNS + 1} runs": (one * (printout.MAX_RUNS + 1), f"more than {printout.MAX_RUNS} runs"),
        f"{printout.MAX_BLOCKS + 1:,} printed epochs": (many_epochs, f"more than {printout.MAX_BLOCKS:,} printed"),
        "17 MB": (one + "x" * 17_000_000 + "\n", "at most 16,000,000"),
    }


def nesting_logs() -> dict[str, tuple[str, str]]:
    """label -> (log text, words of its refusal): shapes and sizes no printed tensor has."""
    base = source_run(3)
    first = "tensor([[0.6826, 0.0530],"
    return {
        "values nested 3 deep": (
            _replace_first(base, first, "tensor([[[0.6826, 0.0530]],"),
            "line 2: epoch 0: hide activate input: values nested more than 2 deep",
        ),
        "values nested 100,000 deep": (
            _replace_first(base, first, "tensor(" + "[" * 100_000 + "0.6826, 0.0530],"),
            "line 2: epoch 0: hide activate input: more than 65,536 characters",
        ),
        "a 1 MB tensor line": (
            _replace_first(base, first, "tensor([[" + "0.1, " * 200_000 + "0.0530],"),
            "line 2: epoch 0: hide activate input: more than 65,536 characters",
        ),
        "a 16 MB state dict of parentheses": (
            _replace_first(base, "OrderedDict([", "OrderedDict([" + "(" * 15_000_000),
            "line 18: epoch 0: state dict: more than 65,536 characters",
        ),
    }
