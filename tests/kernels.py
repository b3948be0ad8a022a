"""The kernels the tests marked ``kernel`` use, built in the background as the run starts
(tests/conftest.py): with an empty cache (a fresh clone's CI) those tests, which run last,
find them built instead of each waiting for its own compile.

The builds are driven by a process of their own (``python -m tests.kernels``), one kernel
after another, so that no test's monkeypatching of the kernel module reaches them; one such
process per test run (under xdist, the first worker to collect starts it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.net import Config


def config(hidden: str, output: str, loss: str, lr: float) -> Config:
    """A 2-2-1 setting."""
    return Config((2,), (parse_activation(hidden), parse_activation(output)), loss, lr)


# (hidden, output, loss, lr, epochs): every kernel kind, halts at once and late, fixed points,
# overflow to inf and NaN
SURVEY_SETTINGS = [
    # the source's logged setting, and its printed code (a third of the runs halt)
    ("relu", "relu", "bce", 0.001, 200),
    ("relu", "relu", "bce", 0.1, 120),
    ("leaky_relu:0.01", "relu", "bce", 0.1, 100),
    ("leaky_relu:0.2", "leaky_relu:0.3", "bce", 0.05, 80),  # negative outputs: BCELoss refuses
    ("identity", "relu", "bce", 2.0, 60),
    ("relu", "identity", "mse", 0.3, 100),
    ("leaky_relu:0.05", "identity", "mse", 0.7, 80),
    ("identity", "identity", "mse", 1e4, 40),  # diverges: overflow to inf, NaN, non-finite loss halts
    ("relu", "identity", "bce-logits", 0.5, 100),
    ("leaky_relu:0.01", "relu", "bce-logits", 50.0, 60),  # large steps: huge logits
    ("relu", "tanh", "bce-logits", 0.5, 60),  # the output activation unused: any takes the fast path
    ("leaky_relu:0.01", "sigmoid", "bce", 0.5, 100),
    ("relu", "sigmoid", "mse", 3.0, 60),
]
BOUNDARY_SETTINGS = [("relu", "relu", "mse", 0.1)]  # test_judging_at_the_rules_boundaries' (with the first)
PATH_SETTINGS = [  # (hidden, output, loss, lr): test_fast_replay's
    ("relu", "relu", "bce", 0.1),
    ("leaky_relu:0.01", "relu", "bce", 0.5),
    ("relu", "identity", "mse", 0.05),
    ("leaky_relu:0.2", "leaky_relu:0.1", "mse", 0.3),
    ("identity", "relu", "bce", 1.0),
]


def build_in_background() -> subprocess.Popen | None:
    """Start the process that builds every kernel above, unless one was started for this test
    run's cache folder already (None then)."""
    from xor_tui.core.engine.fast import kernel

    folder = kernel.cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(folder / "tests-builder.started", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return None
    os.close(fd)
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.kernels"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )


def main() -> None:
    """Build them all, one after another (each build is a child process of its own)."""
    from xor_tui.core.engine.fast import kernel

    jobs = [(config(*s[:4]), "survey") for s in SURVEY_SETTINGS + BOUNDARY_SETTINGS]
    jobs += [(config(*s), "path") for s in PATH_SETTINGS]
    for cfg, what in jobs:
        build = kernel.warm(cfg, what)
        if build is not None:
            build.wait()


if __name__ == "__main__":
    main()
