"""Hostile printout logs (tests/hostile.py) through `xor-tui import`, one process per input:
per kind, how many were tried and how each ended (refused in one line, imported, imported in part
with the runs not written named), with the slowest time and the largest peak memory.

    python benchmarks/hostile_printouts.py [--budget 20] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import hostile  # noqa: E402

KILL_AFTER = 300


def corpus(folder: Path) -> list[tuple[str, str, list[str]]]:
    """(kind, label, arguments after `import`) for every input, its files written into ``folder``."""
    from xor_tui.core.io import printout

    cases: list[tuple[str, str, list[str]]] = []

    def log(kind: str, label: str, text: str, *extra: str) -> None:
        n = len(cases)
        p = folder / f"log{n}.txt"
        p.write_text(text)
        out = folder / f"out{n}"
        out.mkdir()
        cases.append((kind, label, [str(p), "--out", str(out), *extra]))

    for label, (text, _line, _words) in hostile.overflow_logs().items():
        log("float32 overflow", label, text)
    for label, (text, _words) in hostile.cap_logs().items():
        log("caps", label, text)
    one = hostile.source_run(1).split("...")[0]
    log("caps", "64 MB, 78,117 runs (the issue's)", one * 78_117)
    log("caps", f"{printout.MAX_RUNS} runs (at the cap)", one * printout.MAX_RUNS)
    log("caps", "15 MB of prose and one run", ("prose " * 20 + "\n") * 120_000 + hostile.source_run(1))
    for label, (text, _words) in hostile.nesting_logs().items():
        log("shapes", label, text)
    log("regex stress", "all stress lines, 600 KB each, and a crash", hostile.quadratic_log(600_000))
    size = 300_000
    for label, line in {
        "traceback line of spaces (the issue's)": "ValueError: " + " " * size + "x",
        "line of spaces": " " * size + "x",
        "header-like line of '#'": "#" * size + " epoches: 1 " + " " * size + "x",
        "loss line of 'a '": "loss: " + "a " * (size // 2),
        "unclosed state-dict entries": "OrderedDict([('hide.weight', tensor(" * (size // 40),
        "quote and letters": "'" + "a" * size,
        "open parentheses": "(" * size,
    }.items():
        log("regex stress", label, line + "\n" + hostile.source_run(7))
    log("absurd epochs", "second block at epoch 999,999,999 (the issue's)", hostile.absurd_epochs_log(999_999_999))
    log("absurd epochs", "second block at epoch 999,999", hostile.absurd_epochs_log(999_999))
    log("absurd epochs", "second block at epoch 20,000", hostile.absurd_epochs_log(20_000))
    log("absurd epochs", "one run at epoch 999,999", hostile.slow_log())
    return cases


def run_one(args: list[str], budget: str, tmp: str) -> dict:
    report = os.path.join(tmp, "time.txt")
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-o", report, "-f", "%M", sys.executable, "-m", "xor_tui", "import", *args,
         "--budget", budget],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=KILL_AFTER)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    seconds = time.perf_counter() - start
    try:
        maxrss = int(Path(report).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        maxrss = 0
    return {
        "code": proc.returncode,
        "out": out.decode("utf-8", "replace"),
        "err": err.decode("utf-8", "replace"),
        "seconds": seconds,
        "maxrss_kb": maxrss,
    }


def outcome(r: dict) -> str:
    tb = "Traceback" in r["err"]
    if tb:
        return "TRACEBACK"
    if r["code"] == 2 and r["err"].count("\n") == 1:
        return "refused in one line"
    if r["code"] == 0:
        return "imported"
    if r["code"] == 1 and "not written: run" in r["out"].splitlines()[-1]:
        return "imported in part, the rest named"
    if r["code"] == 1:
        return "imported, not every value reproduced"
    return f"OTHER (exit {r['code']})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", default="20")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; --budget {a.budget}")
    table: dict[str, Counter] = defaultdict(Counter)
    slowest, biggest = (0.0, ""), (0, "")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, label, args in corpus(Path(tmp)):
            r = run_one(args, a.budget, tmp)
            o = outcome(r)
            table[kind][o] += 1
            slowest = max(slowest, (r["seconds"], label))
            biggest = max(biggest, (r["maxrss_kb"], label))
            if a.verbose or o.isupper() or o.startswith("OTHER"):
                said = (r["err"].strip() or r["out"].strip().splitlines()[-1])[:200]
                print(f"  {kind} / {label}: {o}, {r['seconds']:.1f} s, {r['maxrss_kb'] / 1024:.0f} MB: {said}")
    for kind, counts in table.items():
        print(f"{kind}: {sum(counts.values())} tried: " + ", ".join(f"{n} {o}" for o, n in counts.items()))
    print(f"slowest: {slowest[0]:.1f} s ({slowest[1]}); largest peak memory: {biggest[0] / 1024:.0f} MB ({biggest[1]})")
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
