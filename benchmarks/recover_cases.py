"""Recover the source's eight starts from its printouts and time it (figures for the README).

    python benchmarks/recover_cases.py [--seeds 3]        # times per run, median over seeds
    python benchmarks/recover_cases.py --write            # also rewrite xor_tui/scenarios/case*.toml

Each run of tests/seed/printouts.txt (a copy of the source's printed blocks) is recovered at lr 0.001
with seeds 0..N-1; the figure per run is the median time and how many printed values were reproduced.
--write puts seed 0's start into case1..case8 (and case4-lr0.1 / case7-elu, which share starts).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from xor_tui.core.io import printout  # noqa: E402
from xor_tui.core.io.scenario import toml_value  # noqa: E402
from xor_tui.core.studies import recover  # noqa: E402

SCEN = ROOT / "xor_tui" / "scenarios"


def start_block(run, rec) -> str:
    b0 = run.blocks[0]
    lines = [
        "[start]",
        "# The source's start, recovered to float32 from its printout (xor-tui's recover.py) and written",
        "# as exact decimals. As the source printed it at epoch 0 (4 decimals):",
    ]
    for key in printout.STATE_KEYS:
        lines.append(f"#   {key} = {recover._printed_value(b0.tensors[key])}")
    lines.append("# Matched at lr 0.001 (the source's logged setting): every value it printed at epochs")
    lines.append(
        f"# {', '.join(map(str, run.epochs))}, {rec.reproduced} of {rec.total}: each tensor entry as torch prints it,"
        + (" each loss exactly, and the crash at epoch 98." if run.halt is not None else " each loss exactly.")
    )
    lines.append("# PyTorch's layout: hidden.weight[j] is the row of hidden unit j")
    lines.append("[start.params]")
    for key, value in rec.start.items():
        lines.append(f'"{key}" = {toml_value(value)}')
    return "\n".join(lines) + "\n\n"


def expect_block(run, case: int, dead: list[str]) -> str:
    first, last = run.blocks[0], run.blocks[-1]
    out = [
        "[[expect]]",
        "epoch = 0",
        f"case = {case}",
        "dead = [" + ", ".join(f'"{u}"' for u in dead) + "]",
        f"loss = {first.loss!r}  # exactly as printed",
        "tolerance = 0.0",
        "",
    ]
    if last.halt is not None:
        out += ["[[expect]]", f"epoch = {last.epoch - 1}", "halted = false", ""]
        out += ["[[expect]]", f"epoch = {last.epoch}", "halted = true  # as the source crashed"]
    else:
        out += ["[[expect]]", f"epoch = {last.epoch}", f"loss = {last.loss!r}  # exactly as printed", "tolerance = 0.0"]
    return "\n".join(out) + "\n"


def rewrite(name: str, run, rec, expect: bool) -> None:
    path = SCEN / f"{name}.toml"
    text = path.read_text()
    text = re.sub(r"^\[start\]\n.*?(?=^\[\[expect\]\]|\Z)", start_block(run, rec), text, count=1, flags=re.S | re.M)
    if expect:
        from xor_tui.core.engine.run import measure
        from xor_tui.core.rules.diagnosis import diagnose

        d0 = diagnose(measure(0, rec.config, recover.net.from_state_dict(rec.start, rec.config)))
        head = text[: text.index("[[expect]]")] if "[[expect]]" in text else text.rstrip("\n") + "\n\n"
        text = head + expect_block(run, d0.case, sorted(d0.dead))
    text = text.replace(
        "The source's start weights and logged setting", "The source's start (recovered to float32) and logged setting"
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    runs = printout.parse_log((ROOT / "tests" / "seed" / "printouts.txt").read_text())
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    total = reproduced = 0
    for run in runs:
        recs, cpu = [], []
        for s in range(a.seeds):
            c0 = time.process_time()
            recs.append(recover.recover(run, 0.001, seed=s))
            cpu.append(time.process_time() - c0)
        times = [r.seconds for r in recs]
        counts = [f"{r.reproduced}/{r.total}" for r in recs]
        print(
            f"run {run.number}: median {statistics.median(times):.1f} s (min {min(times):.1f}, max {max(times):.1f}), "
            f"CPU median {statistics.median(cpu):.1f} s (max {max(cpu):.1f}); "
            f"reproduced {', '.join(counts)}",
            flush=True,
        )
        total += recs[0].total
        reproduced += recs[0].reproduced
        if a.write:
            rewrite(f"case{run.number}", run, recs[0], expect=True)
            if run.number == 4:
                rewrite("case4-lr0.1", run, recs[0], expect=False)
            if run.number == 7:
                rewrite("case7-elu", run, recs[0], expect=False)
    print(f"seed 0: {reproduced} of {total} printed values reproduced")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
