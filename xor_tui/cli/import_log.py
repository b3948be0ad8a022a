"""``xor-tui import LOG``: the student's printouts in a text file, as replayable scenarios.

Bounded and never all-or-nothing: the output folder and every target file are checked before
any work; one time budget (``--budget``) covers the whole import, checked inside every loop;
each run's scenario is written (atomically) as soon as it is recovered, so a budget running out,
a Ctrl-C or a failed write keeps the runs already written, and the summary says which runs
were written and which were not, and why.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

EXIT_OK, EXIT_UNMATCHED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _budget(text: str) -> float:
    import argparse

    from xor_tui.core.budget import MAX_SECONDS

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text[:40]!r}") from None
    if not (math.isfinite(v) and 0 < v <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to {MAX_SECONDS:g} (a day), got {text[:40]}")
    return v


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="read the student's printouts from a text file and write one scenario per run",
        description="Read every run printed by the student's loop in LOG (prose, code, '...' and tracebacks "
        "around them are fine), infer each run's learning rate, recover its float32 start, and write "
        "<LOG stem>-run<k>.toml with expectations for the printed epochs. Each scenario is written as soon "
        "as its run is recovered; the last line says which runs were written and which not.",
    )
    p.add_argument("log", metavar="LOG", help="a text file holding one or more printouts")
    p.add_argument("--out", metavar="DIR", default=".", help="folder for the scenarios (default: the current one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--force", action="store_true", help="overwrite scenario files that exist")
    p.add_argument(
        "--budget",
        metavar="SECONDS",
        type=_budget,
        default=None,
        help="time for the whole import, reading included (default: 60); runs not done by then are "
        "named as not written",
    )


def _fail(message: str) -> int:
    from xor_tui.core.text import printable

    print(f"xor-tui: {printable(message, 1000)}", file=sys.stderr)
    return EXIT_INPUT


def _check_folder(out: Path) -> str | None:
    """Why scenarios cannot be written into ``out`` (found before any work), or None."""
    if not out.exists():
        return f"{out}: no such folder (--out)"
    if not out.is_dir():
        return f"{out}: not a folder (--out)"
    try:  # what the writes will do: a temporary file in the folder (os.access says yes to root)
        fd, tmp = tempfile.mkstemp(prefix=".xor-tui-", suffix=".tmp", dir=out)
    except OSError as exc:
        return f"{out}: cannot write in this folder (--out): {exc.strerror or exc}"
    os.close(fd)
    os.unlink(tmp)
    return None


def cmd_import(args) -> int:
    from xor_tui.core.budget import Budget, Cancelled, OutOfTime
    from xor_tui.core.io.files import check_target
    from xor_tui.core.io.printout import PrintoutError
    from xor_tui.core.io.scenario import ScenarioError
    from xor_tui.core.studies import recover
    from xor_tui.core.studies.recover import import_run, read_log, too_long

    seconds = args.budget if args.budget is not None else recover.TIME_LIMIT
    out = Path(args.out)
    problem = _check_folder(out)
    if problem:
        return _fail(problem)
    budget = Budget(seconds)
    try:
        runs = read_log(args.log, budget)
    except PrintoutError as exc:
        return _fail(str(exc))
    except OutOfTime:
        return _fail(f"{args.log}: the budget of {seconds:g} s ran out while reading the log; nothing written")
    except KeyboardInterrupt:
        _fail("interrupted (Ctrl-C) while reading the log; nothing written")
        return EXIT_INTERRUPTED
    stem = Path(args.log).stem
    names = [f"{stem}-run{r.number}" for r in runs]
    paths = [out / f"{n}.toml" for n in names]
    for p in paths:  # every target, before any run is recovered
        try:
            check_target(p, overwrite=args.force)
        except FileExistsError:
            return _fail(f"{p}: already exists; pass --force to overwrite")
        except OSError as exc:
            return _fail(str(exc))

    done: list[tuple] = []  # (Imported, path)
    missed: list[tuple] = []  # (run, path, reason)
    interrupted = False
    source = Path(args.log).name
    try:
        stop_reason = ""  # why the runs after the last one tried were not started
        for run, name, path in zip(runs, names, paths):
            if stop_reason:
                missed.append((run, path, stop_reason))
                continue
            why = too_long(run)
            if why:
                missed.append((run, path, f"not recovered: {why}"))
                continue
            try:
                imp = import_run(run, name, source, budget)
                imp.save(path, overwrite=args.force)
                done.append((imp, path))
            except OutOfTime as exc:
                missed.append((run, path, f"the budget of {seconds:g} s ran out while {exc.stage or 'recovering it'}"))
                stop_reason = f"not started: the budget of {seconds:g} s had run out"
                continue
            except Cancelled:
                raise KeyboardInterrupt from None
            except (OSError, ScenarioError) as exc:
                missed.append((run, path, f"not written: {exc}"))
                stop_reason = "not started: an earlier write failed"
                continue
            if not args.json:
                print(_line(imp, path), flush=True)
    except KeyboardInterrupt:  # wherever it lands: the runs written are kept, the others named
        interrupted = True
        seen = {imp.run.number for imp, _ in done} | {run.number for run, _, _ in missed}
        rest = [(run, path) for run, path in zip(runs, paths) if run.number not in seen]
        for k, (run, path) in enumerate(rest):
            missed.append((run, path, "interrupted (Ctrl-C)" if k == 0 else "not started: interrupted (Ctrl-C)"))
        missed.sort(key=lambda m: m[0].number)
    try:
        if args.json:
            print(json.dumps({"runs": _json_runs(runs, done, missed), "budget": seconds}))
        else:
            print(_summary(len(runs), done, missed), flush=True)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        _fail(f"interrupted (Ctrl-C): {len(done)} of {len(runs)} scenario(s) written, kept")
        return EXIT_INTERRUPTED
    if missed:
        return EXIT_UNMATCHED
    return EXIT_OK if all(imp.recovery.complete for imp, _ in done) else EXIT_UNMATCHED


def _epochs_text(epochs: list[int]) -> str:
    if len(epochs) <= 6:
        return ", ".join(map(str, epochs))
    return f"{epochs[0]}, {epochs[1]}, ..., {epochs[-1]} ({len(epochs)} epochs)"


def _numbers(runs: list) -> str:
    """'1', '1 and 3', '1, 3 and 4', '2-8' (a stretch of consecutive runs)."""
    nums = [r.number for r in runs]
    if len(nums) > 2 and nums == list(range(nums[0], nums[-1] + 1)):
        return f"{nums[0]}-{nums[-1]}"
    words = [str(n) for n in nums]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _summary(total: int, done: list, missed: list) -> str:
    """The last line: which runs were written and which not, and why (runs of one reason together)."""
    if not missed:
        return f"wrote {len(done)} of {total} run(s)."
    parts = [f"wrote {len(done)} of {total} run(s)" + (f" (run {_numbers([i.run for i, _ in done])})" if done else "")]
    groups: dict[str, list] = {}
    for run, _path, reason in missed:
        groups.setdefault(reason, []).append(run)
    for reason, group in groups.items():
        parts.append(f"not written: run {_numbers(group)}: {reason}")
    return "; ".join(parts) + "."


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


def _json_runs(runs: list, done: list, missed: list) -> list[dict]:
    by_number = {imp.run.number: _json(imp, path) for imp, path in done}
    for run, path, reason in missed:
        by_number[run.number] = {
            "scenario": str(path),
            "written": False,
            "reason": reason,
            "printed_epochs": run.epochs,
        }
    return [by_number[r.number] for r in runs]


def _json(imp, path: Path) -> dict:
    rec = imp.recovery
    run = imp.run
    return {
        "scenario": str(path),
        "written": True,
        "lr": imp.lr,
        "epochs": rec.epochs,
        "printed_epochs": run.epochs,
        "reproduced": rec.reproduced,
        "total": rec.total,
        "exact_losses": rec.exact_losses,
        "case": imp.case,
        "seconds": round(rec.seconds, 3),
        "halt": None if run.halt is None else {"epoch": run.halt.epoch, "message": run.halt.halt},
    }
