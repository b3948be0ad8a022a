"""Survey throughput against the source's own way of training, on the same starts.

    python benchmarks/survey_speed.py [--n 100000] [--epochs 200] [--slow 300]

Prints network-epochs per second for the batched survey (all N networks x E epochs,
counted whether or not a network left the batch early) and for the source's way (one
pair of nn.Linear modules per network, a Python loop over epochs, an SGD optimizer made
each epoch, stopping where BCELoss raises, as the student's script would) on the first
``--slow`` of the same starts, and the ratio.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn

from xor_tui.core import engine
from xor_tui.core.engine import Config
from xor_tui.core.survey import run_survey


def source_way(result, count: int, epochs: int) -> tuple[float, int]:
    x, y = engine.X, engine.TARGET
    net_epochs = 0
    t0 = time.perf_counter()
    for i in range(count):
        sd = engine.state_dict(result.start_params, result.config, i)
        hide, out = nn.Linear(2, 2), nn.Linear(2, 1)
        with torch.no_grad():
            hide.weight.copy_(sd["hidden.weight"])
            hide.bias.copy_(sd["hidden.bias"])
            out.weight.copy_(sd["output.weight"])
            out.bias.copy_(sd["output.bias"])
        relu, loss_fn = nn.ReLU(), nn.BCELoss()
        for _ in range(epochs):
            optimizer = torch.optim.SGD(list(hide.parameters()) + list(out.parameters()), lr=result.config.lr)
            y_hat = relu(out(relu(hide(x))))
            try:
                loss = loss_fn(y_hat, y)
            except RuntimeError:
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            net_epochs += 1
    return time.perf_counter() - t0, net_epochs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--slow", type=int, default=300, help="networks trained the source's way")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    config = Config()
    run_survey(config, 2000, 5)  # warm up
    times = []
    for _ in range(args.repeat):
        r = run_survey(config, args.n, args.epochs, seed=0)
        times.append(r.seconds)
    best, median = min(times), sorted(times)[len(times) // 2]
    fast = args.n * args.epochs / median
    print(
        f"survey: {args.n:,} networks x {args.epochs} epochs: median {median:.3f} s, best {best:.3f} s "
        f"of {args.repeat} ({fast / 1e6:.2f} M network-epochs/s; "
        f"{r.trained_net_epochs:,} network-epochs actually computed)"
    )
    secs, done = source_way(r, args.slow, args.epochs)
    slow_nominal = args.slow * args.epochs / secs
    slow_real = done / secs
    print(
        f"source's way: {args.slow} networks x {args.epochs} epochs: {secs:.2f} s "
        f"({slow_nominal:,.0f} network-epochs/s counted like the survey; "
        f"{slow_real:,.0f}/s counting only epochs it ran before a crash)"
    )
    print(f"ratio: {fast / slow_nominal:,.0f}x")


if __name__ == "__main__":
    main()
