"""Survey throughput: the fused kernel against the torch engine, a torch.func vmap peer and the
source's own loop, on the same starts, checking that every end state is bit for bit the same.

    python benchmarks/survey_speed.py [--n 100000] [--big 1000000] [--epochs 200] [--slow 300]
                                      [--repeat 3] [--sweep] [--against DIR] [--peers LIST]

Training time only (the starts are drawn before the clock starts), median of --repeat runs
(interleaved, so machine load hits every method alike):
- fused:  xor_tui.core.fastsurvey.train (compiled by numba once per machine, loaded without it;
          one network per SIMD lane, both cores)
- engine: the torch survey engine (batched element-wise ops, one shard per core)
- vmap:   torch.func.vmap over grad of a per-network loss (F.linear, ReLU, BCELoss), the update
          as p.add(g, alpha=-lr), halted networks frozen: what one would write with torch.func.
          On the first --vmap-n starts only: BCELoss after a batched linear + ReLU takes a slow
          per-network path under vmap in torch 2.13 (~10 ms per network-epoch batch here)
- source: the student's way on the first --slow starts (an nn.Linear pair per network, a Python
          loop over epochs, an optimizer per epoch, stopping where BCELoss raises)
- against: with --against DIR, another checkout's kernel (e.g. main's in a git worktree, to compare a change),
          loaded under its own name, timed interleaved with ours, its end states compared with ours
- peers:  with --peers (default: all that can run here; "none" skips them) the peers of
          benchmarks/survey_peers.py on all --n starts, each timed interleaved with the others:
          numba (prange, one network per iteration), compile (torch.compile of one batched
          epoch), jax-grad and jax-hand (jax.grad / a hand-written backward, 2 host devices;
          jax is no dependency: without it they print how to install it and are skipped).
          Their compile or warm-up time is reported, not counted
Then `xor-tui survey` as a whole (judging the starts and the ends too) for --n and --big
starts, and with --sweep the default 12 x 12 sweep at --n starts per point.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's xor_tui, not an installed one
import survey_peers  # noqa: E402 (beside this file)

from xor_tui.core.engine import net  # noqa: E402
from xor_tui.core.engine.fast import kernel
from xor_tui.core.engine.net import Config  # noqa: E402
from xor_tui.core.studies import survey


def source_way(start, config: Config, count: int, epochs: int) -> tuple[float, list]:
    x, y = net.X, net.TARGET
    finals = []
    t0 = time.perf_counter()
    for i in range(count):
        sd = net.state_dict(start, config, i)
        hide, out = nn.Linear(2, 2), nn.Linear(2, 1)
        with torch.no_grad():
            hide.weight.copy_(sd["hidden.weight"])
            hide.bias.copy_(sd["hidden.bias"])
            out.weight.copy_(sd["output.weight"])
            out.bias.copy_(sd["output.bias"])
        relu, loss_fn = nn.ReLU(), nn.BCELoss()
        for _ in range(epochs):
            optimizer = torch.optim.SGD(list(hide.parameters()) + list(out.parameters()), lr=config.lr)
            y_hat = relu(out(relu(hide(x))))
            try:
                loss = loss_fn(y_hat, y)
            except RuntimeError:
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        finals.append([t.detach().clone() for t in (hide.weight, hide.bias, out.weight, out.bias)])
    return time.perf_counter() - t0, finals


def vmap_peer(start, config: Config, epochs: int) -> tuple[float, list]:
    """torch.func: vmap(grad(loss)) over all networks; networks that halt are frozen."""
    from torch.func import grad, vmap

    x, t = net.X, net.TARGET
    lr = config.lr

    def forward(w1, b1, w2, b2):
        return F.relu(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2))

    def loss(w1, b1, w2, b2):
        # BCELoss's mean, written as none + mean: vmap has no fast rule for the fused 'mean'
        # (it loops per network); the gradient is the same bits
        return F.binary_cross_entropy(forward(w1, b1, w2, b2), t, reduction="none").mean()

    fwd = vmap(forward)
    grads = vmap(grad(loss, argnums=(0, 1, 2, 3)))
    params = [start[0][0].clone(), start[0][1].clone(), start[1][0].clone(), start[1][1].clone()]
    n = params[0].shape[0]
    active = torch.ones(n, dtype=torch.bool)
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(epochs):
            yv = fwd(*params)
            ok = ((yv >= 0) & (yv <= 1)).flatten(1).all(1)
            active &= ok
            if not bool(active.any()):
                break
            # BCELoss checks its whole (batched) input: evaluate frozen networks at a harmless zero start
            safe = [torch.where(active.view(-1, *[1] * (p.dim() - 1)), p, torch.zeros_like(p)) for p in params]
            gs = grads(*safe)
            params = [
                torch.where(active.view(-1, *[1] * (p.dim() - 1)), p.add(g, alpha=-lr), p) for p, g in zip(params, gs)
            ]
    return time.perf_counter() - t0, params


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def same_ends(a: list, b: list) -> tuple[int, int]:
    """(networks whose nine parameters are all equal, networks)."""
    n = a[0][0].shape[0]
    eq = torch.ones(n, dtype=torch.bool)
    for (w, bb), (w2, b2) in zip(a, b):
        eq &= (w == w2).flatten(1).all(1) & (bb == b2).flatten(1).all(1)
    return int(eq.sum()), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--slow", type=int, default=300, help="networks trained the source's way")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vmap-n", type=int, default=1000, help="networks for the vmap peer (0: skip it)")
    ap.add_argument("--sweep", action="store_true", help="also time the default 12x12 sweep at --n starts per point")
    ap.add_argument("--against", metavar="DIR", help="another checkout (or its xor_tui/core) to time against ours")
    ap.add_argument(
        "--peers",
        default="all",
        help=f"comma list of peers to time on all --n starts ({','.join(survey_peers.PEERS)}), 'all' or 'none'",
    )
    args = ap.parse_args()
    if args.peers == "all":
        peer_names = list(survey_peers.PEERS)
    elif args.peers == "none":
        peer_names = []
    else:
        peer_names = [p.strip() for p in args.peers.split(",") if p.strip()]
        unknown = [p for p in peer_names if p not in survey_peers.PEERS]
        if unknown:
            ap.error(f"unknown peer {', '.join(unknown)}; expected some of {', '.join(survey_peers.PEERS)}")
    skipped = {p: why for p in peer_names if (why := survey_peers.unavailable(p))}
    peer_names = [p for p in peer_names if p not in skipped]
    config = Config()
    print(f"load average at the start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} ({os.cpu_count()} cores)")
    t_compile = kernel.timed_compile(config)
    print(f"kernel ready in {t_compile:.2f} s (compiled or loaded from {kernel.cache_dir()})")
    other = None
    if args.against:
        import importlib.util

        # the other tree's core package under its own name (its kernel imports its _kernels)
        root = Path(args.against)
        core = root / "xor_tui" / "core" if (root / "xor_tui" / "core").is_dir() else root
        spec = importlib.util.spec_from_file_location(
            "other_core", core / "__init__.py", submodule_search_locations=[str(core)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules["other_core"] = package
        spec.loader.exec_module(package)
        other = importlib.import_module("other_core.fastsurvey")
        print(f"the other kernel ({args.against}) ready in {other.timed_compile(config):.2f} s")
    start = net.init_batch(torch.Generator().manual_seed(0), args.n, config.sizes)
    fused_t, engine_t, vmap_t, other_t = [], [], [], []
    peer_t: dict[str, list[float]] = {p: [] for p in peer_names}
    peer_ends: dict[str, list] = {}
    for i in range(args.repeat):
        if other is not None and i % 2:  # alternate which of the two goes first
            s, (theirs, theirs_halt, _) = timed(other.train, start, config, args.epochs)
            other_t.append(s)
        s, (fused, fused_halt, done) = timed(kernel.train, start, config, args.epochs)
        fused_t.append(s)
        if other is not None and not i % 2:
            s, (theirs, theirs_halt, _) = timed(other.train, start, config, args.epochs)
            other_t.append(s)
        with torch.inference_mode():
            s, (exact, exact_halt, _, _) = timed(survey._train_sharded, start, config, args.epochs, None)
        engine_t.append(s)
        if args.vmap_n:
            sub = [(w[: args.vmap_n], b[: args.vmap_n]) for w, b in start]
            s, vm = vmap_peer(sub, config, args.epochs)
            vmap_t.append(s)
        for j in range(len(peer_names)):  # each repeat starts the round at the next peer
            name = peer_names[(i + j) % len(peer_names)]
            s, peer_ends[name] = survey_peers.PEERS[name](start, config, args.epochs)
            peer_t[name].append(s)
    work = args.n * args.epochs
    fm = statistics.median(fused_t)
    print(
        f"{args.n:,} networks x {args.epochs} epochs of the source's setting, training only, median of {args.repeat}:"
    )
    print(
        f"  fused kernel   {fm:8.3f} s  {work / fm / 1e6:8.1f} M network-epochs/s  (runs: "
        + ", ".join(f"{t:.3f}" for t in fused_t)
        + ")"
    )
    if other_t:
        om = statistics.median(other_t)
        eq, n = same_ends(fused, theirs)
        halts = bool(np.array_equal(fused_halt, theirs_halt))
        runs = ", ".join(f"{t:.3f}" for t in other_t)
        print(
            f"  other kernel   {om:8.3f} s  {work / om / 1e6:8.1f} M/s  {om / fm:6.2f}x the fused time "
            f"(runs: {runs}); end states equal {eq:,}/{n:,}, halt epochs equal: {halts}"
        )
    em = statistics.median(engine_t)
    eq, n = same_ends(fused, exact)
    halts = bool(torch.equal(torch.from_numpy(fused_halt), exact_halt))
    print(
        f"  torch engine   {em:8.3f} s  {work / em / 1e6:8.1f} M/s  {em / fm:6.1f}x the fused time; "
        f"end states equal {eq:,}/{n:,}, halt epochs equal: {halts}"
    )
    if vmap_t:
        vm_ = statistics.median(vmap_t)
        vmap_final = [(vm[0], vm[1]), (vm[2], vm[3])]
        eq, n = same_ends([(w[: args.vmap_n], b[: args.vmap_n]) for w, b in fused], vmap_final)
        rate = args.vmap_n * args.epochs / vm_
        print(
            f"  torch.func vmap{vm_:8.3f} s for {args.vmap_n:,} networks: {rate / 1e6:.3f} M/s, "
            f"{work / fm / rate:,.0f}x slower than fused; end states equal {eq:,}/{n:,}"
        )
    for name in survey_peers.PEERS:
        label = f"{survey_peers.LABELS[name]:<15}"
        if name in skipped:
            print(f"  {label}skipped: {skipped[name]}")
        elif name in peer_t:
            pm = statistics.median(peer_t[name])
            eq, n = same_ends(fused, peer_ends[name])
            runs = ", ".join(f"{t:.3f}" for t in peer_t[name])
            print(
                f"  {label}{pm:8.3f} s  {work / pm / 1e6:8.1f} M/s  {pm / fm:6.2f}x the fused time (runs: {runs}; "
                f"compile/warm-up {survey_peers.WARMUP.get(name, 0.0):.1f} s, not counted); "
                f"end states equal {eq:,}/{n:,}"
            )
    secs, finals = source_way(start, config, args.slow, args.epochs)
    rate = args.slow * args.epochs / secs
    eq = sum(
        all(torch.equal(a, b) for a, b in zip(f, [fused[0][0][i], fused[0][1][i], fused[1][0][i], fused[1][1][i]]))
        for i, f in enumerate(finals)
    )
    print(
        f"  source's loop  {secs:8.3f} s for {args.slow} networks: {rate:,.0f} network-epochs/s, "
        f"the fused kernel is {work / fm / rate:,.0f}x faster; end states equal {eq}/{args.slow}"
    )
    for n in (args.n, args.big):
        if n <= 0:
            continue
        times = []
        for _ in range(args.repeat if n <= 200_000 else 1):
            r = survey.run_survey(config, n, args.epochs, seed=0)
            times.append(r.seconds)
        print(
            f"run_survey (draw, judge the starts, train, judge the ends) {n:,} x {args.epochs}: "
            f"median {statistics.median(times):.3f} s ({', '.join(f'{t:.3f}' for t in times)})"
        )
    if args.sweep:
        from xor_tui.core.studies.sweep import log_range, run_sweep

        t0 = time.perf_counter()
        run_sweep(
            config, log_range("0.001:1:12", "", 1e-6, 1e6), log_range("0.25:4:12", "", 1e-3, 1e3), args.n, args.epochs
        )
        print(f"sweep 12 x 12 x {args.n:,} x {args.epochs}: {time.perf_counter() - t0:.1f} s")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
