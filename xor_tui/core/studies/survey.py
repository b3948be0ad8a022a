"""Train many random starts at once and count cases and outcomes.

Every network follows exactly the trajectory a single run of the same start would:
the survey calls the same batched arithmetic (``net.evaluate`` / ``net.sgd_step``)
on a batch of N instead of 1. Networks leave the batch when they halt (BCELoss range
error or a non-finite loss) or when an update leaves them unchanged: from then on
nothing about them can change, so training them further would be wasted work.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np
import torch
from numpy.typing import NDArray

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.net import Config, Layer
from xor_tui.core.engine.run import Start
from xor_tui.core.io.scenario import Scenario
from xor_tui.core.rules.diagnosis import case_array, classify, dead_units, features, is_source_net
from xor_tui.core.rules.outcomes import OUTCOME_MEANING as OUTCOME_MEANING  # (re-exported)
from xor_tui.core.rules.outcomes import OUTCOMES as OUTCOMES
from xor_tui.core.rules.outcomes import outcome_legend as outcome_legend

if TYPE_CHECKING:
    from xor_tui.core.engine.fast.kernel import Build, Decode, Networks

# a survey's limits (a single run's epochs are limited by run.MAX_EPOCHS)
MAX_N = 10_000_000  # networks (memory stays bounded: they are trained in shards)
MAX_SURVEY_EPOCHS = 100_000
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed's range
FIXED_POINT_EVERY = 8  # epochs between checks for networks that stopped moving
COMPACT_SHARE = 0.2  # drop finished networks from the batch once they are this share of it
SOLVED, HALTED, STUCK, LEARNING = range(4)

# what the judging gives per network, the tensors of a batch
Starts = tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]  # case or None, dead units (3)
Ends = tuple[torch.Tensor, torch.Tensor]  # halt epochs (-1: none), outcome
Judged = tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # both
# a shard's survey: the final layers, Judged (Starts then outcome, halt epochs), network-epochs computed
Shard = tuple[
    list[Layer], torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int
]
# training's: the final layers, halt epochs, network-epochs computed, still training
Trained = tuple[list[Layer], torch.Tensor, int, torch.Tensor]
Progress = Callable[[int, int], None]
R = TypeVar("R")


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
    seconds: float  # drawing the starts, training and judging, and a compile waited for (see engines)
    trained_net_epochs: int  # network-epochs actually computed (after early exits)
    engines: Engines = field(default_factory=lambda: Engines())

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

    def by_case(self) -> dict[str, dict[str, float]] | None:
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

    def halt_histogram(self, bins: int = 10) -> list[dict[str, int]]:
        halted = self.halt_epoch[self.halt_epoch >= 0]
        width = max(1, -(-max(self.epochs, 1) // bins))
        out = []
        for lo in range(0, max(self.epochs, 1), width):
            hi = min(lo + width, self.epochs + 1)
            out.append({"from": lo, "to": hi - 1, "count": int(((halted >= lo) & (halted < hi)).sum())})
        return out

    def timing_text(self) -> str:
        """How long the survey took and on which engine, for its last line: the seconds are
        drawing, training and judging, and a compile when the survey waited for one."""
        e = self.engines
        waited = f", {e.waited:.1f} s of them compiling the fused kernel" if e.waited >= 0.05 else ""
        return f"{self.seconds:.2f} s (training and judging{waited}; {e.text()})"

    @property
    def net_epochs_per_second(self) -> float:
        return self.n * self.epochs / self.seconds if self.seconds > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
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
            "engine": self.engines.text(),
            "compile_seconds_waited": self.engines.waited,
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
TORCH_RATE = 2e7  # network-epochs per second the torch engine trains here (of the source's setting, 2 cores)
FIRST_SLICE = 16  # epochs the torch engine trains before it next asks whether the kernel is ready
SLICE_SECONDS = 0.25  # later torch slices are sized to take about this long


@dataclass
class Engines:
    """Which engine trained a survey, and the compile it waited for or started."""

    waited: float = 0.0  # seconds waited for a compile (only when the kernel was asked for: fast=True)
    compiled: float | None = None  # seconds a background compile took, when it ended during the survey
    building: bool = False  # a background compile was under way when the survey ended
    why_not: str = ""  # why the kernel did not train it (the setting, or it is not compiled yet)
    # a survey of more than SHARD networks trains them a shard at a time: each one's networks and
    # the epoch from which the kernel trained it (0: all of it, None: never), in order
    shards: list[tuple[int, int | None]] = field(default_factory=list)

    @property
    def kernel_from(self) -> int | None:
        """For the whole survey: None when the fused kernel trained no shard, else the latest
        epoch it took one over from (0 for all of each one it trained); ``all_kernel`` and
        ``text`` say whether the torch engine trained any."""
        took = [k for _, k in self.shards if k is not None]
        return max(took) if took else None

    @property
    def torch_networks(self) -> int:
        """How many networks the torch engine trained some epochs of."""
        return sum(n for n, k in self.shards if k != 0)

    @property
    def all_kernel(self) -> bool:
        """The fused kernel trained every epoch of every network."""
        return self.kernel_from == 0 and self.torch_networks == 0

    def text(self) -> str:
        """Which engine ran, in a few words (the survey's last line says it with its time)."""
        if self.all_kernel:
            return "fused kernel"
        if self.kernel_from is not None:
            took = f", compiled meanwhile in {self.compiled:.1f} s" if self.compiled is not None else ""
            if len(self.shards) > 1:
                # the shards before the kernel was ready (torch to the end), the one it became ready in
                # (torch to epoch k), those after (the kernel throughout): said in that order
                throughout = sum(n for n, k in self.shards if k is None)
                handed = [(n, k) for n, k in self.shards if k]
                total = sum(n for n, _ in self.shards)
                parts = [f"to the end for {throughout:,}"] if throughout else []
                parts += [f"to epoch {k} for {n:,}" for n, k in handed]
                return (
                    f"torch engine for the first {self.torch_networks:,} of {total:,} networks "
                    f"({'; '.join(parts)}), then the fused kernel{took}"
                )
            return f"torch engine to epoch {self.kernel_from}, then the fused kernel{took}"
        why = self.why_not
        if self.building:
            why = "the fused kernel for this setting was still compiling"
        return f"torch engine, exact: {why}" if why else "torch engine, exact"


class Plan:
    """How one survey (or a sweep's points) trains: the fused kernel when it is ready; else the
    torch engine, taking the kernel from the next slice on once a background build is done.
    ``fast``: True waits for the kernel (tests, benchmarks), False never uses it, None picks;
    ``warm``: start a build even when this survey alone would not pay for it (a long-lived app)."""

    def __init__(
        self, config: Config, work: float, fast: bool | None, warm: bool, note: Callable[[str], None] | None
    ) -> None:
        self.config, self.note, self.engines = config, note, Engines()
        self.uses_kernel = False  # the fused kernel may train (the setting has one, it has not failed)
        self.build: Build | None = None
        if fast is False:
            return
        from xor_tui.core.engine.fast import kernel

        why = kernel.supported(config)
        if why is not None:
            self.engines.why_not = why
            if note is not None:
                note(f"{why}; using the torch engine (exact, slower)")
            return
        self.uses_kernel = True
        if kernel.failed(config):
            self._unavailable(kernel._FAILED.get(("survey", kernel._kinds(config)), ""))
            return
        if fast:
            t0 = time.perf_counter()
            try:
                if not kernel.is_ready(config) and note is not None:
                    note(kernel.compile_note().replace(" in the background", ""))
                kernel.load(config)
            except kernel.Unavailable as exc:
                self._unavailable(str(exc))
            self.engines.waited = time.perf_counter() - t0
            return
        if not kernel.is_ready(config):
            self.engines.why_not = "the fused kernel for this setting is not compiled yet"
            self.build = kernel.building(config)
            estimate = kernel.compile_estimate(config)
            if self.build is None and (warm or work / TORCH_RATE > estimate):
                self.build = kernel.warm(config)
                if self.build is not None and note is not None:
                    note(f"{kernel.compile_note()}; the exact torch engine trains meanwhile")
            if self.build is None:  # not worth it for this survey alone: said, not promised
                self.engines.why_not = (
                    f"the fused kernel for this setting is not compiled, and compiling it (~{estimate:.0f} s) "
                    "would take longer than this survey"
                )

    def _unavailable(self, why: str) -> None:
        self.engines.why_not = why
        self.uses_kernel = False
        if self.note is not None:
            self.note(f"{why}; using the torch engine (exact, slower)")

    def ready(self) -> bool:
        """The kernel can run now (loaded now if its build has just finished)."""
        if not self.uses_kernel:
            return False
        from xor_tui.core.engine.fast import kernel

        if not kernel.is_ready(self.config):
            if kernel.failed(self.config):
                self._unavailable(kernel._FAILED.get(("survey", kernel._kinds(self.config)), ""))
            return False
        try:
            kernel.load(self.config)
        except kernel.Unavailable as exc:
            self._unavailable(str(exc))
            return False
        if self.build is not None and self.engines.compiled is None:
            self.engines.compiled = self.build.elapsed
        return True

    def finish(self) -> Engines:
        """What ran (asked once the survey is done)."""
        if self.build is not None and not self.build.done:
            self.engines.building = True
        return self.engines


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
    warm: bool = False,
    start: list[Layer] | None = None,
    plan: Plan | None = None,
) -> SurveyResult:
    """Train ``n`` starts for ``epochs`` and judge them.

    ``progress(done, total)`` counts epochs over all shards; ``stop()`` is asked between
    epochs (or kernel calls) and ends the survey with KeyboardInterrupt; ``note`` receives
    one-line remarks (the fused kernel compiles in the background, or cannot run). The fused
    kernel trains and judges when it is ready; else the torch engine (the same bits) starts
    at once, and hands the remaining epochs to the kernel if a background build of it ends
    meanwhile. A build is started when the torch engine would take longer than the build (or
    with ``warm``, for a process that lives on); ``fast`` True waits for the kernel instead,
    False never uses it. The result says which engine ran (``engines``) and its ``seconds``
    count drawing, training and judging, and a compile waited for.
    ``init_scale`` multiplies every start parameter (PyTorch's bound 1/sqrt(fan_in) times it);
    ``judge_start=False`` skips the start's cases and dead units (a sweep needs outcomes only);
    ``start`` gives the drawn starts (a sweep draws once).
    """
    if n <= 0:
        raise ValueError("n must be at least 1")
    if epochs < 0:
        raise ValueError("epochs must be 0 or more")
    t0 = time.perf_counter()
    if plan is None:
        plan = Plan(config, float(n) * max(epochs, 1), fast, warm, note)
    else:  # a sweep's next point: what it says is about this point
        plan.engines = Engines(why_not=plan.engines.why_not if plan.engines.kernel_from is None else "")
    if start is None:
        start = draw(config, n, seed, init_scale)
    shards = [(lo, min(lo + SHARD, n)) for lo in range(0, n, SHARD)]
    total = max(epochs, 1) * len(shards)
    results: list[Shard] = []
    for k, (lo, hi) in enumerate(shards):
        part = [(w[lo:hi], b[lo:hi]) for w, b in start]
        report = None
        if progress is not None:
            report = lambda done, _total, k=k: progress(k * max(epochs, 1) + done, total)  # noqa: E731
        results.append(_survey_shard(part, config, epochs, plan, report, stop, judge_start))
        if stop is not None and stop():
            raise KeyboardInterrupt
    if len(results) == 1:  # no copy
        final, start_case, dead_any, dead_all, dead_out, outcome, halt_epoch, trained = results[0]
    else:
        final = [
            (torch.cat([r[0][li][0] for r in results]), torch.cat([r[0][li][1] for r in results]))
            for li in range(len(start))
        ]
        start_case, dead_any, dead_all, dead_out, outcome, halt_epoch = _cat([r[1:7] for r in results])
        trained = sum(r[7] for r in results)
    if progress is not None:
        progress(total, total)
    seconds = time.perf_counter() - t0
    return SurveyResult(
        config, n, epochs, seed, start, final, start_case, dead_any, dead_all, dead_out, outcome, halt_epoch, seconds,
        trained, plan.finish(),
    )  # fmt: skip


def kernel_ready(config: Config) -> bool:
    """True when a survey of this setting runs on the fused kernel now (no compile to wait for)."""
    from xor_tui.core.engine.fast import kernel

    return kernel.supported(config) is None and kernel.is_ready(config)


def warm_kernel(config: Config) -> bool:
    """Start building this setting's survey kernel in the background (a child process) unless
    it is ready, being built, or the setting has none; True when a build is under way."""
    from xor_tui.core.engine.fast import kernel

    return kernel.warm(config) is not None and not kernel.is_ready(config)


def compiling(config: Config) -> bool:
    """This process is building this setting's survey kernel in the background now, into a
    cache folder that will keep it (a build that cannot be kept is not worth waiting for)."""
    kernel = sys.modules.get("xor_tui.core.engine.fast.kernel")
    return kernel is not None and kernel.building(config) is not None and kernel.cache_writable()


def finish_compile(config: Config, seconds: float, stop: Callable[[], bool] | None = None) -> str:
    """Wait up to ``seconds`` for this setting's survey kernel that this process is building in
    the background (a command whose survey ended first: the build would die with it, and the
    next survey of the setting would start it again). "" when no build is under way; else
    "kept", "failed" (the build ended without a kernel) or "timed out" (``stop()``, asked every
    tenth of a second, also ends the wait so)."""
    from xor_tui.core.engine.fast import kernel

    build = kernel.building(config)
    if build is None:
        return ""
    end = time.monotonic() + seconds
    while not build.wait(0.1):
        if time.monotonic() >= end or (stop is not None and stop()):
            return "timed out"
    return "kept" if build.ok else "failed"


def stop_compiles() -> None:
    """Stop every kernel build this process started (a process leaving: the app's quit)."""
    kernel = sys.modules.get("xor_tui.core.engine.fast.kernel")
    if kernel is not None:
        kernel.cancel_builds()


def draw(config: Config, n: int, seed: int, init_scale: float = 1.0) -> list[Layer]:
    """``n`` starts from PyTorch's default initialisation (seed ``seed``), times ``init_scale``."""
    start = net.init_batch(torch.Generator().manual_seed(seed), n, config.sizes)
    if init_scale != 1.0:
        scale = torch.tensor(init_scale, dtype=torch.float32)
        start = [(w * scale, b * scale) for w, b in start]
    return start


def _survey_shard(
    start: list[Layer],
    config: Config,
    epochs: int,
    plan: Plan,
    progress: Progress | None,
    stop: Callable[[], bool] | None,
    judge_start: bool,
) -> Shard:
    n = start[0][0].shape[0]
    starts: Starts | None
    if not plan.uses_kernel:  # the torch engine throughout (another setting, or numba unavailable)
        if judge_start:
            starts = _cat(_in_threads(lambda part: _judge_start(part, config), start))
        else:
            starts = (None, *(torch.from_numpy(np.zeros(n, bool)),) * 3)
        final, halt_epoch, trained, _ = _train_sharded(start, config, epochs, progress, stop)
        halt_epoch, outcome = _cat(_in_threads(lambda part, h: _judge_end(part, config, epochs, h), final, halt_epoch))
        plan.engines.shards.append((n, None))
        return final, *starts, outcome, halt_epoch, trained
    from xor_tui.core.engine.fast import kernel

    nets = kernel.Networks.start(start)
    starts = None if judge_start else (None, *(torch.from_numpy(np.zeros(n, bool)),) * 3)
    decode = None  # the kernel's codes of the starts and ends (constants.DECODE), once it judges
    start_coded = end_coded = False
    trained = 0
    kernel_from = None  # this shard's: the epoch from which the kernel trained it
    if plan.ready():  # judged and trained in the same kernel calls
        decode = _decoding(config, n)
        kernel_from = 0
        bits = np.empty(n, np.int32) if judge_start else None
        ends = np.empty(n, np.int32)
        trained = kernel.advance(nets, config, epochs, progress, stop, starts=bits, ends=ends, decode=decode)
        start_coded, end_coded = judge_start, True
    elif judge_start:
        starts = _cat(_in_threads(lambda part: _judge_start(part, config), start))
    while nets.epoch < epochs and nets.live.any() and not end_coded:
        if plan.ready():
            kernel_from = nets.epoch
            decode = _decoding(config, n)
            trained += kernel.advance(nets, config, epochs, progress, stop, ends=np.empty(n, np.int32), decode=decode)
            end_coded = True
            break
        trained += _torch_slice(nets, config, _slice_end(nets, epochs), progress, stop)
    nets.epoch = max(nets.epoch, epochs)
    plan.engines.shards.append((n, kernel_from))
    if not end_coded and plan.ready():  # (no kernel call trained: the start's codes are not wanted)
        decode = _decoding(config, n)
        kernel.judge(nets, config, decode=decode)
        end_coded = True
    ended = None
    if end_coded:  # decoded beside the starts (numpy lets go of the GIL)
        assert decode is not None
        ended = kernel.beside(_ends_from_codes, decode[2], nets.halt, epochs)
    if start_coded:
        assert decode is not None
        starts = _starts_from_codes(decode[1], config)
    assert starts is not None  # judged: by the kernel, by torch, or not asked for
    final = nets.final_layers()
    if ended is not None:
        halt_epoch, outcome = ended.result()
    else:
        halt = torch.from_numpy(nets.halt)
        halt_epoch, outcome = _cat(_in_threads(lambda part, h: _judge_end(part, config, epochs, h), final, halt))
    return final, *starts, outcome, halt_epoch, trained


def _slice_end(nets: Networks, epochs: int) -> int:
    """Where the torch engine's next slice ends: after FIRST_SLICE epochs, then slices of about
    SLICE_SECONDS (TORCH_RATE) on the networks still training; a ready kernel takes over between."""
    if nets.epoch == 0:
        return min(epochs, FIRST_SLICE)
    live = max(1, int(nets.live.sum()))
    return min(epochs, nets.epoch + max(FIRST_SLICE, int(SLICE_SECONDS * TORCH_RATE / live)))


def _torch_slice(
    nets: Networks, config: Config, end: int, progress: Progress | None, stop: Callable[[], bool] | None
) -> int:
    """Train the networks of ``nets`` still training from ``nets.epoch`` to ``end`` on the torch
    engine, in place (the kernel's form: see kernel.Networks); the network-epochs computed."""
    first = nets.epoch
    idx = torch.from_numpy(np.flatnonzero(nets.live))
    rows = torch.from_numpy(nets.rows())
    part = rows.index_select(0, idx)
    m = part.shape[0]
    layers = [(part[:, 0:4].reshape(m, 2, 2), part[:, 4:6]), (part[:, 6:8].reshape(m, 1, 2), part[:, 8:9])]
    report = None if progress is None else lambda e, _t: progress(e, _t)
    final, halt, trained, live = _train_sharded(layers, config, end, report, stop, first=first)
    rows[idx] = torch.cat([t.reshape(m, -1) for layer in final for t in layer], dim=1)
    nets.halt[idx.numpy()] = halt.numpy()
    nets.live[idx.numpy()] = live.numpy()
    nets.epoch = end
    return trained


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.int32)


@functools.cache
def _decode_table(hidden_flat: bool, output_flat: bool, cases: bool) -> NDArray[np.int32]:
    """The table by which the kernel turns its judging of each start and end into a one-byte
    code (constants.DECODE); the rules are here, the kernel only looks up.

    A start's code is its case (diagnosis.case_table's; 0, none, for a start that halts; all 0
    when ``cases`` is False, a setting the cases do not describe) or'ed with its dead flags
    shifted left by 4 (1: a dead hidden unit, 2: both, 4: a dead output; a unit is dead when its
    activation is flat below 0 and its pre-activation is positive on no row). The first 4,096
    entries, by the 12 bits of the positive pre-activations (BIT_HIDDEN, 8, then BIT_OUTPUT, 4),
    hold where the case table's row for those counts starts (positive hidden pre-activations p,
    active output rows o: row p * 5 + o at 4096 + 1024 * row) and the flags shifted left by 24;
    each row's 1,024 entries are by the 10 bits from BIT_GRAD (the 9 gradient bits, then
    BIT_HALTS). An end's code is its outcome: by the 14 bits from BIT_GRAD (gradients, halt,
    right rows) a state that halts is HALTED, one that gets every row right SOLVED, one with no
    gradient STUCK, any other LEARNING; a network that halted in training is HALTED."""
    from xor_tui.core.engine.fast.constants import BIT_GRAD, BIT_HALTS, BIT_RIGHT, DEC_END, DEC_HALTED, DEC_SIZE

    assert BIT_HALTS == BIT_GRAD + 9  # the halt bit is the tenth bit of a row's index
    table = np.zeros(DEC_SIZE, np.int32)
    v = np.arange(1 << 12)
    hidden, out = v & 0xFF, v >> 8
    dead0, dead1 = (hidden & 0x55) == 0, (hidden & 0xAA) == 0  # bit 2 * row + unit
    flags = ((dead0 | dead1) + 2 * (dead0 & dead1)) * hidden_flat + 4 * (out == 0) * output_flat
    table[:4096] = (4096 + ((_POPCOUNT[hidden] * 5 + _POPCOUNT[out]) << 10)) | (flags << 24)
    if cases:
        index = np.arange(45 << 10)
        case = case_array()[((index >> 10) << 9) | (index & 0x1FF)]
        table[4096 : 4096 + len(index)] = np.where((index & 0x200) != 0, 0, case)  # a start that halts: none
    code = np.arange(1 << (BIT_RIGHT + 4 - BIT_GRAD))
    outcome = np.where((code & 0x1FF) == 0, STUCK, LEARNING)
    outcome[(code >> (BIT_RIGHT - BIT_GRAD)) == 15] = SOLVED
    outcome[((code >> (BIT_HALTS - BIT_GRAD)) & 1) != 0] = HALTED
    table[DEC_END:DEC_HALTED] = outcome
    table[DEC_HALTED] = HALTED
    return table


def _decoding(config: Config, n: int) -> Decode:
    """The kernel's DECODE arguments for n networks of this setting: the table, and the arrays
    the codes of the starts and of the ends are written into."""
    table = _decode_table(
        config.activations[0].flat_below_zero, config.activations[-1].flat_below_zero, is_source_net(config)
    )
    return table, np.empty(n, np.uint8), np.empty(n, np.uint8)


def _starts_from_codes(codes: NDArray[np.uint8], config: Config) -> Starts:
    """(case or None, a dead hidden unit, both dead, dead output) from the kernel's codes of the
    starts (see _decode_table), as _judge_start gives them."""
    case = torch.from_numpy((codes & 15).astype(np.int64)) if is_source_net(config) else None
    hidden_any, hidden_all, output = (torch.from_numpy((codes & bit) != 0) for bit in (16, 32, 64))
    return case, hidden_any, hidden_all, output


def _ends_from_codes(codes: NDArray[np.uint8], halt: NDArray[np.int64], epochs: int) -> Ends:
    """(halt epochs, outcome) from the kernel's codes of the ends, as _judge_end gives them: a
    network that did not halt in training but whose last state halts halted at ``epochs``."""
    outcome = codes.astype(np.int64)
    halt_epoch = np.where((halt < 0) & (codes == HALTED), epochs, halt)
    return torch.from_numpy(halt_epoch), torch.from_numpy(outcome)


@overload
def _cat(results: list[Starts]) -> Starts: ...
@overload
def _cat(results: list[Ends]) -> Ends: ...
@overload
def _cat(results: list[Judged]) -> Judged: ...
def _cat(results: Sequence[tuple[torch.Tensor | None, ...]]) -> tuple[torch.Tensor | None, ...]:
    """Column by column, the tensors of each result one after another (None stays None)."""
    return tuple(None if r[0] is None else torch.cat(list(r)) for r in zip(*results))


@overload
def _in_threads(fn: Callable[[list[Layer]], R], layers: list[Layer]) -> list[R]: ...
@overload
def _in_threads(
    fn: Callable[[list[Layer], torch.Tensor], R], layers: list[Layer], extra: torch.Tensor, /
) -> list[R]: ...
def _in_threads(fn: Callable[..., R], layers: list[Layer], *extra: torch.Tensor) -> list[R]:
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
def _judge_start(start: list[Layer], config: Config) -> Starts:
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
        assert first.loss is not None  # evaluate computes the loss unless told not to
        halted0 = ~first.valid | ~torch.isfinite(first.loss)
        start_case = torch.where(halted0, torch.zeros_like(case), case)
    return start_case, hdead.any(1), hdead.all(1), odead


@torch.inference_mode()
def _judge_end(final: list[Layer], config: Config, epochs: int, halt_epoch: torch.Tensor) -> Ends:
    """(halt epochs, outcome): the state after ``epochs`` updates (or at its halt), judged."""
    n = final[0][0].shape[0]
    halt_epoch = halt_epoch.clone()
    end = net.evaluate(final, config)
    assert end.loss is not None  # evaluate computes the loss unless told not to
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


def _train_sharded(
    start: list[Layer],
    config: Config,
    epochs: int,
    progress: Progress | None,
    stop: Callable[[], bool] | None = None,
    first: int = 0,
) -> Trained:
    """Train in independent shards, one per core, each with a single-threaded torch, from epoch
    ``first`` (the start's) to ``epochs``. Returns (final layers, halt epochs (-1: none),
    network-epochs computed, still training: neither halted nor at a fixed point).

    Every network's arithmetic is the same whatever shard it is in; splitting only avoids
    the per-operation hand-off between cores that makes small element-wise ops slow.
    """
    n = start[0][0].shape[0]
    shards = max(1, min(torch.get_num_threads(), n // 4096))
    bounds = [n * k // shards for k in range(shards + 1)]
    parts = [[(w[lo:hi], b[lo:hi]) for w, b in start] for lo, hi in zip(bounds, bounds[1:])]
    done_epochs = [0] * shards

    def shard_progress(k: int) -> Progress:
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
        results = [_train(parts[0], config, epochs, progress, should_stop, first)]
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        pool = ThreadPoolExecutor(shards)
        try:
            futures = [
                pool.submit(_train, parts[k], config, epochs, shard_progress(k), should_stop, first)
                for k in range(shards)
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
    return final, halt_epoch, sum(r[2] for r in results), torch.cat([r[3] for r in results])


@torch.inference_mode()  # thread-local: each shard's worker thread needs it too
def _train(
    start: list[Layer],
    config: Config,
    epochs: int,
    progress: Progress | None,
    stop: Callable[[], bool] | None = None,
    first: int = 0,
) -> Trained:
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

    for epoch in range(first, epochs):
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
    live = torch.zeros(n, dtype=torch.bool)
    live[idx[alive]] = True
    return final, halt_epoch, trained, live


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
        assert p.loss is not None  # evaluate computes the loss unless told not to
        found = classify(features(p.pre, p.grads)) == case
        found &= p.valid & torch.isfinite(p.loss)
        hits = torch.nonzero(found).flatten()
        if hits.numel():
            return lo + int(hits[0])
    return None
