"""Train many random starts at once and count cases and outcomes.

Every network follows exactly the trajectory a single run of the same start would:
the survey calls the same batched arithmetic (``net.evaluate`` / ``net.sgd_step``)
on a batch of N instead of 1. Networks leave the batch when they halt (BCELoss range
error or a non-finite loss) or when an update leaves them unchanged: from then on
nothing about them can change, so training them further would be wasted work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import torch

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.net import Config, Layer
from xor_tui.core.engine.run import Start
from xor_tui.core.io.scenario import Scenario
from xor_tui.core.rules.diagnosis import classify, dead_units, features, is_source_net
from xor_tui.core.rules.outcomes import OUTCOME_MEANING, OUTCOMES, outcome_legend  # noqa: F401 (re-exported)

# a survey's limits (a single run's epochs are limited by run.MAX_EPOCHS)
MAX_N = 10_000_000  # networks (memory stays bounded: they are trained in shards)
MAX_SURVEY_EPOCHS = 100_000
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed's range
FIXED_POINT_EVERY = 8  # epochs between checks for networks that stopped moving
COMPACT_SHARE = 0.2  # drop finished networks from the batch once they are this share of it
SOLVED, HALTED, STUCK, LEARNING = range(4)


@dataclass
class SurveyResult:
    config: Config
    n: int
    epochs: int
    seed: int
    start_params: list[Layer]
    final_params: list[Layer]
    start_case: torch.Tensor | None  # (N,) 0 = none; None when cases do not apply
    hidden_dead_any: torch.Tensor
    hidden_dead_all: torch.Tensor
    output_dead: torch.Tensor
    outcome: torch.Tensor  # (N,) index into OUTCOMES
    halt_epoch: torch.Tensor  # (N,) -1 when it never halted
    seconds: float
    trained_net_epochs: int  # network-epochs actually computed (after early exits)

    # -- shares
    def share(self, mask: torch.Tensor) -> float:
        return float(mask.sum()) / self.n

    def case_shares(self) -> dict[str, float] | None:
        if self.start_case is None:
            return None
        out = {str(k): self.share(self.start_case == k) for k in range(1, 9)}
        out["none"] = self.share(self.start_case == 0)
        return out

    def outcome_shares(self, mask: torch.Tensor | None = None) -> dict[str, float]:
        oc = self.outcome if mask is None else self.outcome[mask]
        total = max(int(oc.numel()), 1)
        return {name: float((oc == i).sum()) / total for i, name in enumerate(OUTCOMES)}

    def by_case(self) -> dict[str, dict] | None:
        if self.start_case is None:
            return None
        table = {}
        for k in list(range(1, 9)) + [0]:
            mask = self.start_case == k
            count = int(mask.sum())
            row = (
                {"count": count, **self.outcome_shares(mask)} if count else {"count": 0, **dict.fromkeys(OUTCOMES, 0.0)}
            )
            table["none" if k == 0 else str(k)] = row
        return table

    def halt_histogram(self, bins: int = 10) -> list[dict]:
        halted = self.halt_epoch[self.halt_epoch >= 0]
        width = max(1, -(-max(self.epochs, 1) // bins))
        out = []
        for lo in range(0, max(self.epochs, 1), width):
            hi = min(lo + width, self.epochs + 1)
            out.append({"from": lo, "to": hi - 1, "count": int(((halted >= lo) & (halted < hi)).sum())})
        return out

    @property
    def net_epochs_per_second(self) -> float:
        return self.n * self.epochs / self.seconds if self.seconds > 0 else float("inf")

    def to_json(self) -> dict:
        c = self.config
        return {
            "n": self.n,
            "epochs": self.epochs,
            "config": {
                "shape": c.shape_text,
                "activations": [a.spec for a in c.activations],
                "loss": c.loss,
                "lr": c.lr,
                "seed": self.seed,
            },
            "init": {
                "hidden_dead_any": self.share(self.hidden_dead_any),
                "hidden_dead_all": self.share(self.hidden_dead_all),
                "output_dead": self.share(self.output_dead),
                "cases": self.case_shares(),
            },
            "outcome": self.outcome_shares(),
            "by_case": self.by_case(),
            "halt_epochs": self.halt_histogram(),
            "seconds": self.seconds,
            "net_epochs_per_second": self.net_epochs_per_second,
            "trained_net_epochs": self.trained_net_epochs,
        }

    # -- one network as a single run
    def start_of(self, index: int) -> Start:
        return Start(
            "explicit",
            values={k: v.tolist() for k, v in net.state_dict(self.start_params, self.config, index).items()},
        )

    def scenario_for(self, index: int) -> Scenario:
        return Scenario(
            f"survey-{self.seed}-{index}",
            self.config,
            self.start_of(index),
            self.epochs,
            f"Network {index} of a survey of {self.n} (seed {self.seed}).",
        )


SHARD = 250_000  # networks judged and trained at a time: memory stays bounded whatever N


@torch.inference_mode()
def run_survey(
    config: Config,
    n: int,
    epochs: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    *,
    init_scale: float = 1.0,
    stop: Callable[[], bool] | None = None,
    note: Callable[[str], None] | None = None,
    fast: bool | None = None,
    judge_start: bool = True,
) -> SurveyResult:
    """Train ``n`` starts for ``epochs`` and judge them.

    ``progress(done, total)`` counts epochs over all shards; ``stop()`` is asked between
    epochs (or kernel calls) and ends the survey with KeyboardInterrupt; ``note`` receives
    one-line remarks (the fast kernel is being compiled, or cannot run); ``fast`` forces
    the fused kernel on (True, if the setting allows) or off (False); None picks it when it can.
    ``init_scale`` multiplies every start parameter (PyTorch's bound 1/sqrt(fan_in) times it);
    ``judge_start=False`` skips the start's cases and dead units (a sweep needs outcomes only).
    """
    if n <= 0:
        raise ValueError("n must be at least 1")
    if epochs < 0:
        raise ValueError("epochs must be 0 or more")
    trainer = _pick_trainer(config, epochs, fast, note)  # a first run compiles: not the survey's time
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    start = net.init_batch(gen, n, config.sizes)
    if init_scale != 1.0:
        scale = torch.tensor(init_scale, dtype=torch.float32)
        start = [(w * scale, b * scale) for w, b in start]
    shards = [(lo, min(lo + SHARD, n)) for lo in range(0, n, SHARD)]
    total = max(epochs, 1) * len(shards)
    # results are written into whole-N tensors shard by shard: no second copy at the end
    final = [(torch.empty_like(w), torch.empty_like(b)) for w, b in start]
    start_case = torch.empty(n, dtype=torch.long) if judge_start and is_source_net(config) else None
    flags = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]  # dead hidden any / all, dead output
    outcome = torch.empty(n, dtype=torch.long)
    halt_epoch = torch.empty(n, dtype=torch.long)
    trained = 0
    for k, (lo, hi) in enumerate(shards):
        part = [(w[lo:hi], b[lo:hi]) for w, b in start]
        report = None
        if progress is not None:
            report = lambda done, _total, k=k: progress(k * max(epochs, 1) + done, total)  # noqa: E731
        res = _survey_shard(part, config, epochs, trainer, report, stop, judge_start)
        for (fw, fb), (pw, pb) in zip(final, res[0]):
            fw[lo:hi], fb[lo:hi] = pw, pb
        if start_case is not None:
            start_case[lo:hi] = res[1]
        for flag, value in zip(flags, res[2:5]):
            flag[lo:hi] = value
        outcome[lo:hi], halt_epoch[lo:hi] = res[5], res[6]
        trained += res[7]
        del res
        if stop is not None and stop():
            raise KeyboardInterrupt
    if progress is not None:
        progress(total, total)
    seconds = time.perf_counter() - t0
    return SurveyResult(
        config, n, epochs, seed, start, final, start_case, *flags, outcome, halt_epoch, seconds, trained
    )


def _pick_trainer(config: Config, epochs: int, fast: bool | None, note) -> Callable:
    """The fused kernel where the setting allows and numba runs, else the torch engine."""
    if fast is False or epochs == 0:
        return _train_sharded
    from xor_tui.core.engine.fast import kernel

    why = kernel.supported(config)
    if why is not None:
        if note is not None:
            note(f"{why}; using the torch engine (exact, slower)")
        return _train_sharded
    try:
        if kernel.needs_compiling(config) and note is not None:
            note(kernel.compile_note())
        kernel.timed_compile(config)
    except Exception as exc:  # a numba that cannot compile here: the exact engine still can
        if note is not None:
            note(f"the fast survey kernel failed to compile ({type(exc).__name__}); using the torch engine")
        return _train_sharded
    return lambda start, config, epochs, progress, stop: kernel.train(start, config, epochs, progress, stop)


def _survey_shard(start: list[Layer], config: Config, epochs: int, trainer, progress, stop, judge_start=True) -> tuple:
    n = start[0][0].shape[0]
    if judge_start:
        start_case, hdead_any, hdead_all, odead = _cat(_in_threads(lambda part: _judge_start(part, config), start))
    else:
        start_case = None
        hdead_any = hdead_all = odead = torch.zeros(n, dtype=torch.bool)
    final, halt_epoch, trained = trainer(start, config, epochs, progress, stop)
    halt_epoch = torch.as_tensor(halt_epoch, dtype=torch.long)
    halt_epoch, outcome = _cat(_in_threads(lambda part, h: _judge_end(part, config, epochs, h), final, halt_epoch))
    return final, start_case, hdead_any, hdead_all, odead, outcome, halt_epoch, trained


def _cat(results: list[tuple]) -> tuple:
    return tuple(None if r[0] is None else torch.cat(list(r)) for r in zip(*results))


def _in_threads(fn, layers: list[Layer], *extra: torch.Tensor) -> list:
    """``fn`` on slices of the batch, one per core, each with a single-threaded torch (element-wise
    work on 100,000 networks is several times faster so than with torch's own threads)."""
    n = layers[0][0].shape[0]
    k = max(1, min(torch.get_num_threads(), n // 8192))
    bounds = [n * i // k for i in range(k + 1)]
    parts = [
        ([(w[lo:hi], b[lo:hi]) for w, b in layers], *(t[lo:hi] for t in extra)) for lo, hi in zip(bounds, bounds[1:])
    ]
    if k == 1:
        return [fn(*parts[0]) if extra else fn(parts[0][0])]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(k) as pool:
            return list(pool.map(lambda p: fn(*p) if extra else fn(p[0]), parts))
    finally:
        torch.set_num_threads(threads)


@torch.inference_mode()
def _judge_start(start: list[Layer], config: Config) -> tuple:
    """(case at the start or None, a dead hidden unit, both dead, dead output) per network."""
    n = start[0][0].shape[0]
    first = net.evaluate(start, config)
    relu_hidden = config.activations[0].flat_below_zero
    relu_out = config.activations[-1].flat_below_zero
    hdead = dead_units(first.pre[0]) if relu_hidden else torch.zeros(n, config.hidden[0], dtype=torch.bool)
    odead = dead_units(first.pre[-1])[:, 0] if relu_out else torch.zeros(n, dtype=torch.bool)
    start_case = None
    if is_source_net(config):
        case = classify(features(first.pre, first.grads))
        halted0 = ~first.valid | ~torch.isfinite(first.loss)
        start_case = torch.where(halted0, torch.zeros_like(case), case)
    return start_case, hdead.any(1), hdead.all(1), odead


@torch.inference_mode()
def _judge_end(final: list[Layer], config: Config, epochs: int, halt_epoch: torch.Tensor) -> tuple:
    """(halt epochs, outcome): the state after ``epochs`` updates (or at its halt), judged."""
    n = final[0][0].shape[0]
    halt_epoch = halt_epoch.clone()
    end = net.evaluate(final, config)
    never_halted = halt_epoch < 0
    # a network may also be refused at its very last state (epoch == epochs)
    late = never_halted & (~end.valid | ~torch.isfinite(end.loss))
    halt_epoch[late] = epochs
    preds = losses.predictions(config.loss, end.pre[-1], end.out[-1])[..., 0]
    target = net.TARGET[:, 0].bool()
    right = torch.where(target, preds > 0.5, preds < 0.5).all(dim=1)
    no_grad = torch.ones(n, dtype=torch.bool)
    for gw, gb in end.grads:
        no_grad &= (gw == 0).flatten(1).all(1) & (gb == 0).all(1)
    outcome = torch.full((n,), LEARNING, dtype=torch.long)
    outcome[no_grad] = STUCK
    outcome[right] = SOLVED
    outcome[halt_epoch >= 0] = HALTED
    return halt_epoch, outcome


def _train_sharded(start: list[Layer], config: Config, epochs: int, progress, stop=None) -> tuple:
    """Train in independent shards, one per core, each with a single-threaded torch.

    Every network's arithmetic is the same whatever shard it is in; splitting only avoids
    the per-operation hand-off between cores that makes small element-wise ops slow.
    """
    n = start[0][0].shape[0]
    shards = max(1, min(torch.get_num_threads(), n // 4096))
    bounds = [n * k // shards for k in range(shards + 1)]
    parts = [[(w[lo:hi], b[lo:hi]) for w, b in start] for lo, hi in zip(bounds, bounds[1:])]
    done_epochs = [0] * shards

    def shard_progress(k: int):
        def report(epoch: int, total: int) -> None:
            done_epochs[k] = epoch
            if progress is not None and k == 0:
                progress(min(done_epochs), total)

        return report

    halt_all = threading.Event()  # set on Ctrl-C or stop(): every shard ends after its epoch

    def should_stop() -> bool:
        main = threading.current_thread() is threading.main_thread()
        if not halt_all.is_set() and stop is not None and main and stop():
            halt_all.set()
        return halt_all.is_set()

    if shards == 1:
        results = [_train(parts[0], config, epochs, progress, should_stop)]
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        pool = ThreadPoolExecutor(shards)
        try:
            futures = [
                pool.submit(_train, parts[k], config, epochs, shard_progress(k), should_stop) for k in range(shards)
            ]
            while not all(f.done() for f in futures):
                wait(futures, timeout=0.05)  # wakes up for Ctrl-C in the main thread
                should_stop()
            results = [f.result() for f in futures]
        except BaseException:
            halt_all.set()
            raise
        finally:
            pool.shutdown(wait=True)
            torch.set_num_threads(threads)
    if halt_all.is_set():
        raise KeyboardInterrupt
        if progress is not None:
            progress(epochs, epochs)
    final = [
        (torch.cat([r[0][li][0] for r in results]), torch.cat([r[0][li][1] for r in results]))
        for li in range(len(start))
    ]
    halt_epoch = torch.cat([r[1] for r in results])
    return final, halt_epoch, sum(r[2] for r in results)


@torch.inference_mode()  # thread-local: each shard's worker thread needs it too
def _train(start: list[Layer], config: Config, epochs: int, progress, stop=None) -> tuple:
    n = start[0][0].shape[0]
    # train batch-last (weights (out, in, B)): the batch is the contiguous inner dimension
    params = [(w.permute(1, 2, 0).contiguous(), b.permute(1, 0).contiguous()) for w, b in start]
    final = [(w.clone(), b.clone()) for w, b in params]
    halt_epoch = torch.full((n,), -1, dtype=torch.long)
    idx = torch.arange(n)  # batch position -> network number
    done = torch.zeros(n, dtype=torch.bool)  # finished, but not yet dropped from the batch
    trained = 0

    def keep_final(rows: torch.Tensor) -> None:
        for li, (w, b) in enumerate(params):
            final[li][0][..., idx[rows]] = w.index_select(-1, rows)
            final[li][1][..., idx[rows]] = b.index_select(-1, rows)

    for epoch in range(epochs):
        if idx.numel() == 0 or (stop is not None and stop()):
            break
        # BCELoss's value is finite whenever it is valid (its logs are clamped), so only
        # the other losses need it computed to spot a non-finite loss
        p = net.evaluate_bl(params, config, loss_value=config.loss != "bce")
        trained += idx.numel()
        bad = ~p.valid if p.loss is None else ~p.valid | ~torch.isfinite(p.loss)
        bad &= ~done
        if bool(bad.any()):
            rows = bad.nonzero().squeeze(1)
            halt_epoch[idx[rows]] = epoch
            keep_final(rows)  # the halted state is kept; the network takes no step
            done |= bad
        new = net.sgd_step(params, p.grads, config)
        if epoch % FIXED_POINT_EVERY == 0:
            # an update that changed nothing will change nothing ever again
            unchanged = ~done
            for (w, b), (w2, b2) in zip(params, new):
                unchanged &= (w == w2).flatten(0, 1).all(0) & (b == b2).all(0)
            if bool(unchanged.any()):
                keep_final(unchanged.nonzero().squeeze(1))
                done |= unchanged
            if float(done.sum()) > COMPACT_SHARE * done.numel():
                rows = (~done).nonzero().squeeze(1)
                new = [(w.index_select(-1, rows), b.index_select(-1, rows)) for w, b in new]
                idx, done = idx[rows], done[rows]
        # finished networks still in the batch take garbage steps; their results were kept
        params = new
        if progress is not None:
            progress(epoch + 1, epochs)
    alive = (~done).nonzero().squeeze(1)
    keep_final(alive)
    final = [(w.permute(2, 0, 1).contiguous(), b.permute(1, 0).contiguous()) for w, b in final]
    return final, halt_epoch, trained


def find_seed(
    case: int, config: Config | None = None, start: int = 0, limit: int = 200_000, batch: int = 512
) -> int | None:
    """The first seed >= start whose default PyTorch start is in ``case`` (2-2-1 ReLU/ReLU)."""
    config = config or Config()
    if not is_source_net(config):
        raise ValueError("cases are defined for a 2-2-1 network with ReLU in both layers")
    if not 1 <= case <= 8:
        raise ValueError("case must be 1 to 8")
    for lo in range(start, start + limit, batch):
        seeds = range(lo, lo + batch)
        layers = [net.init_from_seed(s, config.sizes) for s in seeds]
        stacked = [
            (torch.cat([lay[li][0] for lay in layers]), torch.cat([lay[li][1] for lay in layers]))
            for li in range(len(config.sizes) - 1)
        ]
        p = net.evaluate(stacked, config)
        found = classify(features(p.pre, p.grads)) == case
        found &= p.valid & torch.isfinite(p.loss)
        hits = torch.nonzero(found).flatten()
        if hits.numel():
            return lo + int(hits[0])
    return None
