"""``xor-tui import LOG``: the student's printouts in a text file, as replayable scenarios."""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXIT_OK, EXIT_UNMATCHED, EXIT_INPUT = 0, 1, 2


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="read the student's printouts from a text file and write one scenario per run",
        description="Read every run printed by the student's loop in LOG (prose, code, '...' and tracebacks "
        "around them are fine), infer each run's learning rate, recover its float32 start, and write "
        "<LOG stem>-run<k>.toml with expectations for the printed epochs.",
    )
    p.add_argument("log", metavar="LOG", help="a text file holding one or more printouts")
    p.add_argument("--out", metavar="DIR", default=".", help="folder for the scenarios (default: the current one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--force", action="store_true", help="overwrite scenario files that exist")


def _fail(message: str) -> int:
    print(f"xor-tui: {message}", file=sys.stderr)
    return EXIT_INPUT


def cmd_import(args) -> int:
    from xor_tui.core.io.files import write_atomic
    from xor_tui.core.io.printout import PrintoutError
    from xor_tui.core.studies import recover
    from xor_tui.core.studies.recover import import_run, read_log

    try:
        runs = read_log(args.log)
    except PrintoutError as exc:
        return _fail(str(exc))
    out = Path(args.out)
    if not out.is_dir():
        return _fail(f"{out}: no such folder (--out)")
    stem = Path(args.log).stem
    names = [f"{stem}-run{r.number}" for r in runs]
    paths = [out / f"{n}.toml" for n in names]
    if not args.force:
        for p in paths:
            if p.exists():
                return _fail(f"{p}: already exists; pass --force to overwrite")
    results = []
    for run, name in zip(runs, names):
        imp = import_run(run, name, Path(args.log).name, recover.TIME_LIMIT)
        results.append(imp)
        if not args.json:
            print(_line(imp, out / f"{name}.toml"), flush=True)
    try:
        for imp, path in zip(results, paths):
            write_atomic(path, imp.text, overwrite=args.force)
    except OSError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"runs": [_json(imp, path) for imp, path in zip(results, paths)]}))
    return EXIT_OK if all(imp.recovery.complete for imp in results) else EXIT_UNMATCHED


def _epochs_text(epochs: list[int]) -> str:
    if len(epochs) <= 6:
        return ", ".join(map(str, epochs))
    return f"{epochs[0]}, {epochs[1]}, ..., {epochs[-1]} ({len(epochs)} epochs)"


def _line(imp, path: Path) -> str:
    rec = imp.recovery
    run = imp.run
    parts = [
        f"run {run.number} (line {run.line}): epochs {_epochs_text(run.epochs)} printed",
        f"lr {imp.lr:g} ({imp.lr_note})",
        f"{rec.reproduced}/{rec.total} printed values reproduced"
        + (f" ({len(rec.inexact_epochs)} losses within 1e-6, not to the last bit)" if rec.inexact_epochs else "")
        + ("" if rec.complete else f", worst: {rec.worst_text()}"),
        f"case {imp.case} at epoch 0" if imp.case is not None else "no case at epoch 0",
        f"halts at epoch {run.halt.epoch}" if run.halt is not None else "no halt",
        f"{rec.seconds:.1f} s",
    ]
    return "; ".join(parts) + f" -> {path}"


def _json(imp, path: Path) -> dict:
    rec = imp.recovery
    run = imp.run
    return {
        "scenario": str(path),
        "lr": imp.lr,
        "epochs": rec.epochs,
        "printed_epochs": run.epochs,
        "reproduced": rec.reproduced,
        "total": rec.total,
        "exact_losses": rec.exact_losses,
        "case": imp.case,
        "halt": None if run.halt is None else {"epoch": run.halt.epoch, "message": run.halt.halt},
    }
