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
