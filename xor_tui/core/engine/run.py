"""A single training run with full history: step, step back, act, replay a script."""

from __future__ import annotations

import bisect
import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

import torch

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.actions import ACTION_KINDS, FLOAT32_MAX, MAX_ABS_VALUE, Action, check_seed, check_value
from xor_tui.core.engine.activations import Activation, SpecError
from xor_tui.core.engine.net import Config, Layer, ParamRef

__all__ = [  # actions live in .actions; re-exported for callers that import them from here
    "ACTION_KINDS",
    "FLOAT32_MAX",
    "MAX_ABS_VALUE",
    "Action",
    "check_seed",
    "check_value",
    "SpecError",
    "Halt",
    "LazySeq",
    "MAX_EPOCHS",
    "Record",
    "Run",
    "RunHalted",
    "Start",
    "measure",
]


MAX_EPOCHS = 1_000_000  # the longest run a scenario or `replay --epochs` may ask for


@dataclass(frozen=True)
class Halt:
    """Why training stopped at an epoch: torch's own message plus plain words."""

    epoch: int
    message: str
    rows: tuple[int, ...]
    reason: str


class Record:
    """The state after ``epoch`` updates, the forward pass on it, its loss and gradients.

    Built from its parameters (after that epoch's actions) and its config; the forward
    pass, loss, gradients and halt are computed by ``measure`` on first use, so a history
    can hand out records of old epochs without having kept them.
    """

    __slots__ = ("epoch", "config", "_params", "actions", "_m", "_loss")

    def __init__(
        self,
        epoch: int,
        config: Config,
        params: list[Layer] | Callable[[], list[Layer]],
        actions: Sequence[Action] = (),
        loss: float | None = None,
    ) -> None:
        self.epoch = epoch
        self.config = config
        self._params = params  # the layers, or a function that makes them on first use
        self.actions = tuple(actions)
        self._m: _Measured | None = None
        self._loss = loss  # known without a forward pass (a stored finite loss), else None

    @property
    def params(self) -> list[Layer]:
        """Batch of one: [(weight (1, out, in), bias (1, out)), ...]."""
        if callable(self._params):
            self._params = self._params()
        return self._params

    def _measured(self) -> _Measured:
        if self._m is None:
            self._m = _forward(self.epoch, self.config, self.params)
        return self._m

    @property
    def pre(self) -> list[torch.Tensor]:  # per layer (4, units)
        return self._measured().pre

    @property
    def out(self) -> list[torch.Tensor]:
        return self._measured().out

    @property
    def loss(self) -> float | None:
        return self._loss if self._loss is not None else self._measured().loss

    @property
    def grads(self) -> list[Layer] | None:  # None when halted
        return self._measured().grads

    @property
    def halt(self) -> Halt | None:
        return self._measured().halt

    @property
    def halted(self) -> bool:
        return self.halt is not None

    def value(self, ref: ParamRef) -> float:
        return net.get_value(self.params, ref)

    def grad(self, ref: ParamRef) -> float | None:
        return None if self.grads is None else net.get_value(self.grads, ref)

    def predictions(self) -> torch.Tensor:
        return losses.predictions(self.config.loss, self.pre[-1], self.out[-1])[:, 0]

    def __repr__(self) -> str:
        return f"Record(epoch={self.epoch}, loss={self.loss}, halted={self.halted})"


@dataclass(frozen=True)
class _Measured:
    pre: list[torch.Tensor]
    out: list[torch.Tensor]
    loss: float | None
    grads: list[Layer] | None
    halt: Halt | None


def _unbounded_reason(act: Activation, values: list[float]) -> str:
    lo, hi = act.bounded
    if any(math.isnan(v) for v in values):
        return "the output is NaN, so the loss cannot be computed"
    above = any(v > 1 for v in values)
    if above and hi > 1:
        return f"{act.label} output is unbounded above, and BCELoss needs values in [0, 1]"
    if not above and lo < 0:
        return f"{act.label} output can be negative, and BCELoss needs values in [0, 1]"
    return "BCELoss needs outputs in [0, 1]"


def _forward(epoch: int, config: Config, params: list[Layer]) -> _Measured:
    p = net.evaluate(params, config)
    pre = [t[0] for t in p.pre]
    out = [t[0] for t in p.out]
    if not bool(p.valid[0]):
        y = out[-1][:, 0]
        bad = tuple(int(r) for r in torch.nonzero(losses.out_of_range(y)).flatten())
        values = [float(y[r]) for r in bad]
        halt = Halt(epoch, losses.torch_message(y), bad, _unbounded_reason(config.activations[-1], values))
        return _Measured(pre, out, None, None, halt)
    assert p.loss is not None  # evaluate computes the loss unless told not to
    loss = float(p.loss[0])
    if not math.isfinite(loss):
        halt = Halt(epoch, f"loss is {loss}", (), "the loss is not finite; a step would only spread NaN or inf")
        return _Measured(pre, out, loss, None, halt)
    return _Measured(pre, out, loss, p.grads, None)


def measure(epoch: int, config: Config, params: list[Layer], actions: Sequence[Action] = ()) -> Record:
    """The record of a state, with its forward pass, loss and gradients computed now."""
    rec = Record(epoch, config, params, actions)
    rec._measured()
    return rec


class RunHalted(RuntimeError):
    pass


@dataclass
class Start:
    """Where a run begins: a seed, all zeros, or explicit values."""

    kind: str  # "seed", "zeros", "explicit"
    seed: int | None = None
    values: Mapping[str, object] | None = None  # state_dict-like nested lists, for "explicit"

    def params(self, config: Config) -> list[Layer]:
        if self.kind == "seed":
            assert self.seed is not None  # every seed start is made with its seed
            return net.init_from_seed(int(self.seed), config.sizes)
        if self.kind == "zeros":
            return net.zeros(config.sizes)
        assert self.values is not None  # every explicit start is made with its values
        return net.from_state_dict(self.values, config)

    def describe(self) -> str:
        if self.kind == "seed":
            return f"seed {self.seed}"
        return {"explicit": "given weights", "zeros": "all zeros"}.get(self.kind, self.kind)


T = TypeVar("T")


class LazySeq(Sequence[T]):
    """A read-only sequence whose items are made on demand by ``get(k)``."""

    def __init__(
        self,
        length: int,
        get: Callable[[int], T],
        start: int = 0,
        iterate: Callable[[int, int], Iterator[T]] | None = None,
    ) -> None:
        self._len, self._get, self._start, self._iterate = length, get, start, iterate

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, k: int) -> T: ...
    @overload
    def __getitem__(self, k: slice) -> Sequence[T]: ...
    def __getitem__(self, k: int | slice) -> T | Sequence[T]:
        if isinstance(k, slice):
            lo, hi, step = k.indices(self._len)
            if step != 1:
                return [self[i] for i in range(lo, hi, step)]
            return LazySeq(max(0, hi - lo), self._get, self._start + lo, self._iterate)
        if k < 0:
            k += self._len
        if not 0 <= k < self._len:
            raise IndexError(k)
        return self._get(self._start + k)

    def __iter__(self) -> Iterator[T]:
        if self._iterate is not None:  # a faster way through many items at once
            yield from self._iterate(self._start, self._start + self._len)
            return
        for k in range(self._len):
            yield self._get(self._start + k)


class Run:
    """A run's history; ``records[-1]`` (``current``) is the current state, forward already done.

    What is stored, per epoch: the parameters after that epoch's actions as one row of
    float32 numbers (9 for the source's net: 36 bytes), the loss (8 bytes) and a flag
    saying the epoch repeats the one before bit for bit. Configs and actions are kept only
    at the epochs where they change or happen. Everything else in a record (forward pass,
    gradients, halt) is recomputed on demand by ``measure``, which is deterministic, so
    ``records[k]`` is the same whenever it is asked for: 45 bytes per epoch for the
    source's net, 45 MB for a million epochs. The current record and the last 64 asked
    for are cached.

    A fixed point (stepping gave back bit for bit the same parameters, e.g. case 1 where
    no gradient flows) is detected, and its later epochs are filled in without
    recomputing them until the script acts again.
    """

    CACHE = 64

    def __init__(self, config: Config, start: Start, script: list[Action] | None = None):
        self.start = start
        self.initial_config = config
        self.script = sorted(script or [], key=lambda a: a.epoch)
        self._script_epochs = sorted({a.epoch for a in self.script})
        params = start.params(config)
        self._shapes = [(tuple(w.shape[1:]), tuple(b.shape[1:])) for w, b in params]
        width = sum(math.prod(ws) + math.prod(bs) for ws, bs in self._shapes)
        self._flat = torch.empty(64, width, dtype=torch.float32)
        self._loss = torch.empty(64, dtype=torch.float64)
        self._repeat = torch.zeros(64, dtype=torch.bool)
        self._configs: list[tuple[int, Config]] = []  # (first epoch, config) where it changes
        self._actions: dict[int, tuple[Action, ...]] = {}
        self._n = 0
        self._cache: OrderedDict[int, Record] = OrderedDict()
        self._current: Record  # (made by _store, just below)
        self._store(self._enter(0, config, params), repeat=False)

    # -- storage
    def _grow(self, n: int) -> None:
        if n <= len(self._flat):
            return
        cap = max(n, 2 * len(self._flat))
        for name in ("_flat", "_loss", "_repeat"):
            old = getattr(self, name)
            new = torch.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _row(self, params: list[Layer]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for w, b in params for t in (w, b)])

    def _unrow(self, k: int) -> list[Layer]:
        return self._layers(self._flat[k])

    def _layers(self, row: torch.Tensor) -> list[Layer]:
        return [(w.clone(), b.clone()) for w, b in self.batch(row[None])]

    def batch(self, rows: torch.Tensor) -> list[Layer]:
        """Stored rows (B, width) as batch-first layers [(weight (B, out, in), bias (B, out)), ...]
        (views of ``rows``), what ``net.evaluate`` takes for B states at once."""
        i, out = 0, []
        for ws, bs in self._shapes:
            nw, nb = math.prod(ws), math.prod(bs)
            out.append((rows[:, i : i + nw].reshape(-1, *ws), rows[:, i + nw : i + nw + nb].reshape(-1, *bs)))
            i += nw + nb
        return out

    def _config_at(self, k: int) -> Config:
        i = bisect.bisect_right(self._configs, k, key=lambda c: c[0]) - 1
        return self._configs[i][1]

    def _store(self, rec: Record, repeat: bool) -> Record:
        """Make ``rec`` the record of its epoch and the current one; later epochs are dropped."""
        k = rec.epoch
        self._truncate(k)
        self._grow(k + 1)
        self._flat[k] = self._row(rec.params)
        self._loss[k] = math.nan if rec.loss is None else rec.loss
        self._repeat[k] = repeat
        if not self._configs or self._configs[-1][1] != rec.config:
            self._configs.append((k, rec.config))
        if rec.actions:
            self._actions[k] = rec.actions
        prev = self._current if self._n == k and k else None
        self._n = k + 1
        self._current = rec
        if prev is not None and prev.epoch == k - 1:  # keep the one just left: it is asked for next
            self._cache[k - 1] = prev
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return rec

    def _truncate(self, k: int) -> None:
        """Forget epochs from ``k`` on."""
        while self._configs and self._configs[-1][0] >= k:
            self._configs.pop()
        for e in [e for e in self._actions if e >= k]:
            del self._actions[e]
        for e in [e for e in self._cache if e >= k]:
            del self._cache[e]
        self._n = min(self._n, k)

    def _record(self, k: int) -> Record:
        if k == self._n - 1:
            return self._current
        rec = self._cache.get(k)
        if rec is None:
            loss = float(self._loss[k])  # an earlier epoch did step, so its loss was finite
            row = self._flat[k].clone()  # a snapshot: the row may be rewritten after back()
            rec = Record(k, self._config_at(k), lambda: self._layers(row), self._actions.get(k, ()), loss)
            self._cache[k] = rec
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return rec

    # -- state
    @property
    def records(self) -> LazySeq[Record]:
        """Every epoch's record, 0 .. epoch; each made on demand (see the class docstring)."""
        return LazySeq(self._n, self._record, iterate=self._iter_records)

    def _iter_records(self, start: int, stop: int) -> Iterator[Record]:
        losses = self._loss[start:stop].tolist()
        rows = self._flat[start:stop].clone()  # a snapshot: rows may be rewritten after back()
        for i, k in enumerate(range(start, stop)):
            if k == self._n - 1:
                yield self._current
            elif k in self._cache:
                yield self._cache[k]
            else:
                params = functools.partial(self._layers, rows[i])
                yield Record(k, self._config_at(k), params, self._actions.get(k, ()), losses[i])

    @property
    def current(self) -> Record:
        return self._current

    @property
    def epoch(self) -> int:
        return self._current.epoch

    @property
    def config(self) -> Config:
        return self._current.config

    @property
    def halted(self) -> bool:
        return self._current.halted

    def actions(self) -> list[Action]:
        return [a for k in sorted(self._actions) for a in self._actions[k]]

    def losses(self, start: int = 0, stop: int | None = None) -> list[float | None]:
        """The loss of each epoch from ``start`` to ``stop`` (None where it could not be computed)."""
        stop = self._n if stop is None else min(stop, self._n)
        return [None if math.isnan(v) else v for v in self._loss[start:stop].tolist()]

    def flat(self, start: int, stop: int) -> torch.Tensor:
        """The stored parameters of epochs ``start`` to ``stop``, one row of float32 each (a view)."""
        return self._flat[start : min(stop, self._n)]

    def flat_at(self, epochs: list[int]) -> torch.Tensor:
        """The stored parameters of the given epochs, one row each (a copy)."""
        return self._flat[torch.tensor(epochs, dtype=torch.int64)]

    def segments(self, start: int, stop: int) -> list[tuple[int, int, Config]]:
        """(first, end, config) for each stretch of epochs in [start, stop) with one config."""
        stop = min(stop, self._n)
        out = []
        for i, (first, config) in enumerate(self._configs):
            end = self._configs[i + 1][0] if i + 1 < len(self._configs) else self._n
            lo, hi = max(first, start), min(end, stop)
            if lo < hi:
                out.append((lo, hi, config))
        return out

    def acted(self, start: int, stop: int) -> set[int]:
        """The epochs in [start, stop) at which actions happened."""
        return {e for e in self._actions if start <= e < stop}

    def is_repeat(self, k: int) -> bool:
        """True when epoch ``k`` is bit for bit epoch ``k - 1`` again (a fixed point), with no action."""
        return bool(self._repeat[k]) if 0 <= k < self._n else False

    def repeats(self, start: int = 0, stop: int | None = None) -> list[bool]:
        """``is_repeat`` of each epoch from ``start`` to ``stop``, as one list."""
        stop = self._n if stop is None else min(stop, self._n)
        return self._repeat[start:stop].tolist()

    def changes(self, start: int = 0, stop: int | None = None) -> list[int]:
        """The epochs in [start, stop) that are not repeats of the one before."""
        stop = self._n if stop is None else min(stop, self._n)
        return (torch.nonzero(~self._repeat[start:stop]).flatten() + start).tolist()

    # -- moving
    def _enter(self, epoch: int, config: Config, params: list[Layer]) -> Record:
        """Make the record of a new epoch, applying the script's actions for it first."""
        applied = []
        for action in self.script:
            if action.epoch == epoch:
                config, params = action.apply(config, params)
                applied.append(action)
        return measure(epoch, config, params, applied)

    def settled(self) -> bool:
        """True when the current state is a fixed point (bit for bit the epoch before, e.g. no
        parameter receives gradient) and no scripted action lies ahead: stepping can never
        change anything again."""
        k = self.epoch
        return not self.halted and self.is_repeat(k) and self._next_scripted(k) is None

    def _next_scripted(self, after: int) -> int | None:
        i = bisect.bisect_right(self._script_epochs, after)
        return self._script_epochs[i] if i < len(self._script_epochs) else None

    def step(self) -> Record:
        cur = self._current
        if cur.halt is not None:
            raise RunHalted(f"training halted at epoch {cur.epoch}: {cur.halt.message}")
        k = cur.epoch + 1
        if self._repeat[cur.epoch] and self._next_scripted(cur.epoch) != k:
            # a fixed point: the same parameters give the same step again
            rec = Record(k, cur.config, cur.params)
            rec._m = cur._m
            return self._store(rec, repeat=True)
        grads = cur.grads
        assert grads is not None  # computed for every state that does not halt
        params = net.sgd_step(cur.params, grads, cur.config)
        rec = self._enter(k, cur.config, params)
        same = not rec.actions and rec.config == cur.config and _bits_equal(params, cur.params)
        return self._store(rec, repeat=same)

    def advance(
        self,
        epoch: int,
        should_stop: Callable[[], bool] | None = None,
        on_step: Callable[[], object] | None = None,
        fill: bool = True,
        note: Callable[[str], None] | None = None,
    ) -> None:
        """Step to ``epoch`` or a halt; a fixed point is filled in at once, without stepping
        (with ``fill`` false, advancing stops there instead). ``note`` hears one line when the
        fused kernel for this setting starts compiling in the background (see ``prepare_fast``).

        Long stretches without scripted actions, in the settings the fused kernel trains
        (``kernel.trajectory``), are computed by it in slices of ``FAST_SLICE`` epochs,
        bit for bit what ``step`` would give. ``on_step`` is called after each real step or
        slice (not for the epochs filled in); ``should_stop`` is asked as often.
        """
        while self.epoch < epoch and not self.halted:
            if should_stop is not None and should_stop():
                return
            k = self.epoch
            if self._repeat[k]:
                if not fill:
                    return
                nxt = self._next_scripted(k)
                end = min(epoch, (nxt - 1) if nxt is not None else epoch)
                if end > k:
                    self._grow(end + 1)
                    self._flat[k + 1 : end + 1] = self._flat[k]
                    self._loss[k + 1 : end + 1] = self._loss[k]
                    self._repeat[k + 1 : end + 1] = True
                    cur = self._current
                    rec = Record(end, cur.config, cur.params)
                    rec._m = cur._m
                    self._n = end + 1
                    self._current = rec
                    continue
            if not self._fast(epoch, note):
                self.step()
            if on_step is not None:
                on_step()

    FAST_MIN = 32  # shorter stretches are stepped one by one
    FAST_SLICE = 1 << 16  # epochs per kernel call: a stop request waits at most ~20 ms
    WARM_EPOCHS = 20_000  # a run this far from its target builds the kernel in the background (~1 s stepping)

    def _stretch_end(self, epoch: int) -> int | None:
        """How far towards ``epoch`` one fused-kernel slice would go from here, ready or not, or
        None when the kernel does not apply: another setting, a scripted action or ``epoch`` too
        near, or a state that cannot change (no parameter receives gradient: stepping once
        finds the fixed point and the rest is filled in, with nothing compiled)."""
        k = self.epoch
        nxt = self._next_scripted(k)
        end = min(epoch, (nxt - 1) if nxt is not None else epoch, k + self.FAST_SLICE)
        if end - k < self.FAST_MIN or self.halted or self.is_repeat(k) or not fast_replay(self._current.config):
            return None
        grads = self._current.grads
        if grads is not None and not any(bool(t.any()) for layer in grads for t in layer):
            return None
        return end

    def fast_end(self, epoch: int) -> int | None:
        """How far towards ``epoch`` one fused-kernel slice goes from here, or None when the
        kernel does not apply (see ``_stretch_end``) or is not ready (being compiled in the
        background, or not at all: the run steps on the torch engine, the same bits)."""
        end = self._stretch_end(epoch)
        if end is None:
            return None
        from xor_tui.core.engine.fast import kernel

        return end if kernel.is_ready(self._current.config, "path") else None

    def prepare_fast(self, epoch: int, note: Callable[[str], None] | None = None) -> bool:
        """True when advancing towards ``epoch`` takes a stretch through the fused kernel and it is
        ready (loaded now from the cache: ~30 ms). Never waits for a compile: when the kernel is
        not ready and the run has far to go (WARM_EPOCHS), its build starts in a child process
        (``note`` hears one line) and the run steps on meanwhile, taking the kernel from the
        first stretch after the build."""
        if self._stretch_end(epoch) is None:
            return False
        from xor_tui.core.engine.fast import kernel

        config = self._current.config
        if not kernel.is_ready(config, "path"):
            far = epoch - self.epoch >= self.WARM_EPOCHS
            if far and kernel.building(config, "path") is None and kernel.warm(config, "path") is not None and note:
                note(kernel.compile_note("path"))
            return False
        try:
            kernel.load(config, "path")
        except kernel.Unavailable:  # fast_replay says no from now on
            return False
        return True

    def _fast(self, epoch: int, note: Callable[[str], None] | None = None) -> bool:
        """Advance a stretch with the fused kernel; False when it does not apply here."""
        if not self.prepare_fast(epoch, note):  # no stretch here, or no kernel: step by step
            return False
        from xor_tui.core.engine.fast import kernel
        from xor_tui.core.engine.fast.constants import REPEATS

        k, config, end = self.epoch, self._current.config, self.fast_end(epoch)
        assert end is not None  # prepare_fast found the stretch, and loaded the kernel
        rows, why = kernel.trajectory(self._flat[k].numpy(), config, end - k)
        m = len(rows)
        if m == 0:  # the current state halts: step() says so with torch's message
            return False
        stop = k + m
        self._grow(stop + 1)
        new = torch.from_numpy(rows)
        self._flat[k + 1 : stop + 1] = new
        if m > 1:  # every state but the last was stepped from, so its loss is finite
            p = net.evaluate(self.batch(new[:-1]), config, grads=False)
            assert p.loss is not None  # evaluate computes the loss unless told not to
            self._loss[k + 1 : stop] = p.loss.double()
        self._repeat[k + 1 : stop + 1] = False
        rec = self._enter(stop, config, self._layers(self._flat[stop]))
        self._loss[stop] = math.nan if rec.loss is None else rec.loss
        self._repeat[stop] = why == REPEATS
        for e in [e for e in self._cache if e > k]:
            del self._cache[e]
        self._n = stop + 1
        self._current = rec
        return True

    def back(self) -> bool:
        if self._n <= 1:
            return False
        self.goto(self._n - 2)
        return True

    def goto(self, epoch: int) -> None:
        """Go back to ``epoch`` (no further than 0); later epochs are forgotten."""
        epoch = max(0, epoch)
        if epoch >= self._n - 1:
            return
        rec = self._record(epoch)
        self._truncate(epoch + 1)
        self._current = rec
        self._cache.pop(epoch, None)

    def restore(self, rec: Record) -> None:
        """Make ``rec``, an earlier record of the current epoch (the state before an action
        at it), the current record again: that action is undone, later epochs are gone."""
        if rec.epoch != self._current.epoch:
            raise ValueError(f"a record of epoch {rec.epoch} cannot replace epoch {self._current.epoch}")
        self._store(rec, repeat=False)

    def act(self, action: Action) -> Record:
        """Apply a user action to the current state; diagnosis is recomputed at once."""
        cur = self._current
        action = action.at(cur.epoch)
        config, params = action.apply(cur.config, cur.params)
        return self._store(measure(cur.epoch, config, params, cur.actions + (action,)), repeat=False)


def fast_replay(config: Config) -> bool:
    """True when ``Run.advance`` may use the fused kernel for this setting: it trains it
    (``kernel.supported``), and the losses of many states computed at once are bit for bit
    those of each state alone (no sigmoid or exp, whose vectorised kernels differ in the
    last bit between a batch and a single run)."""
    from xor_tui.core.engine.fast import kernel

    return (
        config.loss in ("bce", "mse")
        and config.activations[-1].name != "sigmoid"
        and kernel.supported(config) is None
        and not kernel.failed(config, "path")
    )


def _bits_equal(a: list[Layer], b: list[Layer]) -> bool:
    return all(torch.equal(x.view(torch.int32), y.view(torch.int32)) for p, q in zip(a, b) for x, y in zip(p, q))
