"""What a user waits for, in one run: compiles, whole commands, the app's survey, launch.

    python benchmarks/wait.py --prepare          # once: build the warm caches (minutes, cold machine)
    python benchmarks/wait.py [--repeat 5] [--only launch,cache,cold,app,survey,sweep] [--against DIR]

Every figure is a median of --repeat runs, the methods compared taken in turn (interleaved,
so the machine's load hits each alike), with the load average (`uptime`) at its start:

- launch: the app's first frame (a process that starts `xor-tui`'s app headless and leaves at
  its first painted frame) against `python -c "import torch"`
- cache:  whole-process `xor-tui survey` with the kernel in the private compiler's cache (an
          object file, loaded without numba) against numba's own `cache=True` (the same kernel
          built by numba, loaded through numba: XOR_TUI_KERNEL=numba at build time)
- cold:   whole-process `xor-tui survey` with an empty cache against a warm one, for the source's
          setting and one more (a sigmoid output): goal, cold within 1.5 s of warm
- app:    the app's first survey (`v`, enter: 20,000 networks) cold and warm, from enter to
          the result drawn (Pilot, headless, a process each)
- survey: `run_survey` of 100,000 x 200 against the kernel alone on the same starts: goal 1.3x
- sweep:  the default 12 x 12 sweep of 100,000 x 200 against the kernel alone on its points
- kernel: with --against DIR (another checkout, e.g. `git archive REV | tar -x -C DIR`), the
          kernel alone there and here, each in processes of its own, taken in turn

The warm caches live in XOR_TUI_CACHE (or ~/.cache/xor-tui) under bench-private and
bench-numba; --prepare builds them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's xor_tui, not an installed one
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} {five:.2f}"


def base_cache() -> Path:
    if os.environ.get("XOR_TUI_CACHE"):
        return Path(os.environ["XOR_TUI_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xor-tui"


PRIVATE, NUMBA = base_cache() / "bench-private", base_cache() / "bench-numba"
SIGMOID = ["--output", "sigmoid", "--lr", "0.5"]


def wall(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def survey_cmd(*extra: str, hide_scipy: bool = False) -> list[str]:
    """`xor-tui survey ...`, this tree's (``hide_scipy``: as where scipy is not installed; numba's
    compiler imports scipy.linalg when present, ~0.6 s here, and xor-tui does not need it)."""
    hide = "import sys; sys.modules['scipy'] = None; " if hide_scipy else ""
    return [sys.executable, "-c", f"{hide}from xor_tui.cli.main import run; run()", "survey", *extra]


def with_cache(folder: Path | str, **more: str) -> dict:
    return dict(ENV, XOR_TUI_CACHE=str(folder), **more)


def interleaved(methods: dict, repeat: int) -> dict[str, list[float]]:
    """Each method once per round, the first of each round rotating."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(methods[name]())
    return times


def report(title: str, times: dict[str, list[float]], against: str | dict[str, str] | None = None) -> None:
    """Medians, and each method's median difference from ``against`` taken round by round
    (one method for all, or a method's own by name)."""
    print(title)
    for name, ts in times.items():
        m = statistics.median(ts)
        extra = ""
        base = against.get(name) if isinstance(against, dict) else against
        if base and name != base:
            diff = statistics.median([a - b for a, b in zip(ts, times[base])])
            extra = f"  ({diff:+.2f} s against {base}, median of the rounds' differences)"
        print(f"  {name:<34} median {m:6.3f} s  runs {', '.join(f'{t:.2f}' for t in ts)}{extra}")


def prepare() -> None:
    """Build the warm caches: the source's setting and the sigmoid one, both ways."""
    from xor_tui.core.engine.activations import parse_activation
    from xor_tui.core.engine.fast import kernel
    from xor_tui.core.engine.net import Config

    configs = [Config(), Config((2,), (parse_activation("relu"), parse_activation("sigmoid")), "bce", 0.5)]
    for folder, mode in ((PRIVATE, ""), (NUMBA, "numba")):
        for config in configs:
            code = (
                "from xor_tui.core.engine.fast import kernel; from xor_tui.core.engine.net import Config;"
                "from xor_tui.core.engine.activations import parse_activation as a;"
                f"kernel.load(Config((2,), (a('relu'), a('{config.activations[1].spec}')), 'bce', {config.lr}))"
            )
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=with_cache(folder, XOR_TUI_KERNEL=mode), check=True)
            print(f"{folder.name}: {config.summary()} ready in {time.perf_counter() - t0:.1f} s")
    del kernel


APP_FIRST_FRAME = """
import os, sys
from xor_tui.app.main import XorApp
async def pilot(p):
    await p.pause()
    sys.stdout.flush()
    os._exit(0)
XorApp().run(headless=True, auto_pilot=pilot, size=(120, 36))
"""

APP_SURVEY = """
import os, sys, time
from xor_tui.app.main import XorApp
async def pilot(p):
    await p.pause()
    await p.press('v')
    await p.pause()
    t0 = time.perf_counter()
    await p.press('enter')
    result = p.app.screen.query_one('#result')
    while isinstance(result.content, str):  # "running…" until the tables replace it
        await p.pause(0.005)
    print(time.perf_counter() - t0, flush=True)
    os._exit(0)
XorApp().run(headless=True, auto_pilot=pilot, size=(120, 36))
"""


def app_survey(folder: Path | str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", APP_SURVEY], env=with_cache(folder), capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def cold(fn):
    """``fn(folder)`` with an empty cache folder of its own."""

    def run() -> float:
        with tempfile.TemporaryDirectory(prefix="xor-tui-cold-") as folder:
            return fn(folder)

    return run


KERNEL_ALONE = """
import statistics, sys, time, torch
import xor_tui
from xor_tui.core.engine import net
from xor_tui.core.engine.net import Config
try:
    from xor_tui.core.engine.fast import kernel
except ImportError:
    from xor_tui.core import fastsurvey as kernel
config = Config()
kernel.load(config)
start = net.init_batch(torch.Generator().manual_seed(0), 100_000, config.sizes)
times = []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter(); kernel.train(start, config, 200); times.append(time.perf_counter() - t0)
print(statistics.median(times))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prepare", action="store_true", help="build the warm caches and stop")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="launch,cache,cold,app,survey,sweep", help="sections, comma-separated")
    ap.add_argument("--against", metavar="DIR", help="another checkout: its kernel alone against this one's")
    args = ap.parse_args()
    if args.prepare:
        prepare()
        return
    only = set(args.only.split(","))
    r = args.repeat
    print(f"{os.cpu_count()} cores; {load()}")
    if "launch" in only:
        print(load())
        report(
            "launch: process start to the app's first frame, against importing torch",
            interleaved(
                {
                    "python -c 'import torch'": lambda: wall([sys.executable, "-c", "import torch"]),
                    "the app's first frame": lambda: wall([sys.executable, "-c", APP_FIRST_FRAME]),
                },
                r,
            ),
            "python -c 'import torch'",
        )
    if "cache" in only:
        print(load())
        report(
            "cache: whole-process `xor-tui survey` (100,000 x 200), kernel warm, private compiler vs numba's own",
            interleaved(
                {
                    "private compiler (object file)": lambda: wall(survey_cmd(), with_cache(PRIVATE)),
                    "numba's own cache=True": lambda: wall(survey_cmd(), with_cache(NUMBA)),
                    "numba's own, scipy not installed": lambda: wall(survey_cmd(hide_scipy=True), with_cache(NUMBA)),
                    "private, scipy not installed": lambda: wall(survey_cmd(hide_scipy=True), with_cache(PRIVATE)),
                    "python -c 'import torch'": lambda: wall([sys.executable, "-c", "import torch"]),
                },
                r,
            ),
            "private compiler (object file)",
        )
    if "cold" in only:
        print(load())
        report(
            "cold: whole-process `xor-tui survey` (100,000 x 200), empty cache vs warm",
            interleaved(
                {
                    "source's setting, warm": lambda: wall(survey_cmd(), with_cache(PRIVATE)),
                    "source's setting, cold": cold(lambda f: wall(survey_cmd(), with_cache(f))),
                    "sigmoid output, warm": lambda: wall(survey_cmd(*SIGMOID), with_cache(PRIVATE)),
                    "sigmoid output, cold": cold(lambda f: wall(survey_cmd(*SIGMOID), with_cache(f))),
                },
                r,
            ),
            {  # each cold run against the same setting's warm one (the goal's comparison)
                "source's setting, cold": "source's setting, warm",
                "sigmoid output, warm": "source's setting, warm",
                "sigmoid output, cold": "sigmoid output, warm",
            },
        )
    if "app" in only:
        print(load())
        report(
            "app: the first survey (v, enter: 20,000 x 200), enter to the result drawn",
            interleaved({"warm": lambda: app_survey(PRIVATE), "cold": cold(app_survey)}, r),
            "warm",
        )
    if "survey" in only or "sweep" in only:
        os.environ["XOR_TUI_CACHE"] = str(PRIVATE)
        in_process(only, r)
    if args.against:
        print(load())
        other = dict(ENV, PYTHONPATH=str(Path(args.against).resolve()), XOR_TUI_CACHE=str(base_cache() / "bench-other"))
        here = with_cache(PRIVATE)

        def alone(env: dict) -> float:
            out = subprocess.run([sys.executable, "-c", KERNEL_ALONE, "15"], env=env, capture_output=True, text=True)
            return float(out.stdout.split()[-1])

        times = interleaved({"this kernel": lambda: alone(here), f"{args.against}'s kernel": lambda: alone(other)}, r)
        report("kernel alone, 100,000 x 200 of the source's setting (each a median of 15 in its own process)", times)
        ratios = [a / b for a, b in zip(times["this kernel"], times[f"{args.against}'s kernel"])]
        print(f"  this / that: median of the rounds' ratios {statistics.median(ratios):.3f}")
    print(f"{load()} at the end")


def in_process(only: set[str], r: int) -> None:
    import torch

    from xor_tui.core.engine.fast import kernel
    from xor_tui.core.engine.net import Config
    from xor_tui.core.studies import survey
    from xor_tui.core.studies.sweep import log_range, point_config, run_sweep

    config = Config()
    kernel.load(config)
    if "survey" in only:
        print(load())
        ks, ss = [], []
        for i in range(max(r, 9)):
            start = survey.draw(config, 100_000, i)
            t0 = time.perf_counter()
            kernel.train(start, config, 200)
            ks.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = survey.run_survey(config, 100_000, 200, seed=i)
            ss.append(time.perf_counter() - t0)
            assert res.engines.kernel_from == 0
        ratios = [s / k for s, k in zip(ss, ks)]
        print("survey: run_survey (draw, judge, train, judge) against the kernel alone, 100,000 x 200")
        print(f"  kernel alone  median {statistics.median(ks):.4f} s  runs {', '.join(f'{t:.3f}' for t in ks)}")
        print(f"  run_survey    median {statistics.median(ss):.4f} s  runs {', '.join(f'{t:.3f}' for t in ss)}")
        print(f"  run_survey / kernel: median of the pairs' ratios {statistics.median(ratios):.2f}")
    if "sweep" in only:
        print(load())
        lrs, scales = log_range("0.001:1:12", "", 1e-6, 1e6), log_range("0.25:4:12", "", 1e-3, 1e3)
        base = survey.draw(config, 100_000, 0)
        alone, whole = [], []
        for _ in range(max(1, r // 3)):
            t0 = time.perf_counter()
            for scale in scales:
                s = torch.tensor(scale, dtype=torch.float32)
                start = [(w * s, b * s) for w, b in base]
                for lr in lrs:
                    kernel.train(start, point_config(config, lr), 200)
            alone.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = run_sweep(config, lrs, scales, 100_000, 200)
            whole.append(time.perf_counter() - t0)
            assert res.engine == "fused kernel"
        print("sweep: 12 x 12 x 100,000 x 200 of the source's setting")
        print(f"  kernel alone on its points  {', '.join(f'{t:.2f}' for t in alone)} s")
        print(f"  run_sweep                   {', '.join(f'{t:.2f}' for t in whole)} s")
        print(f"  run_sweep / kernel: {statistics.median([w / a for w, a in zip(whole, alone)]):.2f}")


if __name__ == "__main__":
    main()
