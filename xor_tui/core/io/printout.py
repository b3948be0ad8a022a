"""The student's printout: written exactly as the student's loop prints it, and read back.

The loop (../shared/seed/student_loop.py) prints, every epoch, a header line, the four
tensors of the forward pass, the ``state_dict`` and ``loss: X``; when BCELoss refuses the
outputs, Python's traceback ends with ``RuntimeError: all elements of input should be
between 0 and 1`` instead of the loss line. ``epoch_lines`` prints a record that way through
real ``hide``/``out`` modules and torch's own tensor printing; ``parse_log`` finds such
printouts in any text (prose, code, elisions and tracebacks around them) and reads every
printed entry as text, so that a replay can be compared with a printout entry by entry.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.nn as nn

from xor_tui.core.budget import Budget
from xor_tui.core.engine import net
from xor_tui.core.engine.actions import FLOAT32_MAX
from xor_tui.core.engine.activations import Activation

if TYPE_CHECKING:
    from xor_tui.core.engine.run import Record
    from xor_tui.core.io.scenario import Scenario

# print('##########################epoches:', i, '##############################')
HEADER_LEFT, HEADER_RIGHT = "#" * 26 + "epoches:", "#" * 30
HALT_PREFIX = "RuntimeError: "


def header(epoch: int) -> str:
    return f"{HEADER_LEFT} {epoch} {HEADER_RIGHT}"


# ---------------------------------------------------------------- writing


class Replayed(Protocol):
    """What ``seed_lines`` reads of a replay (``studies.replay.Replay``): its scenario and records."""

    @property
    def scenario(self) -> Scenario: ...

    @property
    def records(self) -> Iterable[Record]: ...


def seed_lines(rp: Replayed) -> list[str]:
    """A replay's epochs as the student's loop printed them (one-hidden-layer networks only)."""
    if len(rp.scenario.config.hidden) != 1:
        raise ValueError("the student's printout has one hidden layer")
    out: list[str] = []
    for rec in rp.records:
        out.extend(epoch_lines(rec))
    return out


@contextlib.contextmanager
def _default_print_options() -> Iterator[None]:
    """torch's default print options (4 decimals, ...), whatever the caller set globally."""
    from torch._tensor_str import PRINT_OPTS

    saved = dict(vars(PRINT_OPTS))
    torch.set_printoptions(profile="default")  # type: ignore[no-untyped-call]  # torch leaves it unannotated
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(PRINT_OPTS, k, v)


def epoch_lines(rec: Record) -> list[str]:
    """One record printed by the student's print statements, through real torch modules.

    ``hide``/``out`` are ``nn.Linear`` modules holding the record's parameters, so the
    grad_fn names and every digit are torch's own. A BCELoss halt prints the traceback's
    last line where the loss would be; a non-finite loss prints as the loop would (``loss: nan``).
    """
    c = rec.config
    sizes = c.sizes
    hide, outl = nn.Linear(sizes[0], sizes[1]), nn.Linear(sizes[1], sizes[2])
    with torch.no_grad():
        for mod, (w, b) in zip((hide, outl), rec.params):
            mod.weight.copy_(w[0])
            mod.bias.copy_(b[0])
    buf = io.StringIO()
    with _default_print_options(), contextlib.redirect_stdout(buf):
        print(HEADER_LEFT, rec.epoch, HEADER_RIGHT)
        hide_in = hide(net.X)
        print("hide activate input:", hide_in)
        hide_out = act_module(c.activations[0])(hide_in)
        print("hide activate output:", hide_out)
        out_in = outl(hide_out)
        print("out activate input:", out_in)
        y = act_module(c.activations[1])(out_in)
        print("out activate output:", y)
        sd = OrderedDict((f"hide.{k}", v) for k, v in hide.state_dict().items())
        sd.update((f"out.{k}", v) for k, v in outl.state_dict().items())
        print(sd)
        if rec.halt is not None and rec.loss is None:
            print(f"{HALT_PREFIX}{rec.halt.message}")
        else:
            print("loss:", rec.loss)
    return buf.getvalue().splitlines()


def act_module(act: Activation) -> nn.Module:
    """The torch module of an activation, as the student's loop would build it."""
    modules: dict[str, Callable[[], nn.Module]] = {
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(act.value),
        "elu": lambda: nn.ELU(act.value),
        "sigmoid": lambda: nn.Sigmoid(),
        "tanh": lambda: nn.Tanh(),
        "identity": lambda: nn.Identity(),
        "gelu": lambda: nn.GELU(),
        "softplus": lambda: nn.Softplus(),
    }
    return modules[act.name]()


# ---------------------------------------------------------------- reading

ACTIVATION_PARTS = ("hide activate input", "hide activate output", "out activate input", "out activate output")
STATE_KEYS = ("hide.weight", "hide.bias", "out.weight", "out.bias")
# our parameter names for the source's module names
PARAM_NAMES = {"hide.weight": "hidden.weight", "hide.bias": "hidden.bias", "out.weight": "output.weight",
               "out.bias": "output.bias"}  # fmt: skip
# the activation behind a grad_fn name (nn modules at their default parameters)
GRAD_FNS = {
    "ReluBackward0": "relu",
    "LeakyReluBackward0": "leaky_relu",
    "EluBackward0": "elu",
    "SigmoidBackward0": "sigmoid",
    "TanhBackward0": "tanh",
    "GeluBackward0": "gelu",
    "SoftplusBackward0": "softplus",
    "AddmmBackward0": "identity",
}

# Caps no homework log comes near (the source's log: 15 KB, 8 runs, 16 printed epochs; the student's
# loop printing every epoch of a 1,000-epoch run: about 1 MB), each refused in one line.
MAX_LOG_BYTES = 16_000_000
MAX_RUNS = 200  # runs in one log
MAX_BLOCKS = 10_000  # printed epochs in one log, all runs together (a scenario holds 10,000 expectations)
MAX_EXPONENT = 60  # float32 spans 1.4013e-45 to 3.4028e+38: torch never prints an exponent past these
MAX_NUMBER_CHARS = 32  # torch prints '-1.2345e-05'; a loss prints as Python's repr, at most 24
_MAX_TENSOR_LINES = 64
MAX_TENSOR_CHARS = 65_536  # a tensor's or state dict's printed text (the source's: under 300)
_MAX_TRACEBACK_LINES = 400
_CHECK_EVERY = 2048  # lines between two budget checks while reading

# Every regex here runs in time linear in its line: no two unbounded repeats can share
# characters (a quadratic one, '(.*?)\s*$' on a line of spaces, took 13 s on 40 KB).
HEADER_RE = re.compile(r"^\s*#{3,}\s*epoches:\s*(\d{1,9})\s*#{3,}\s*$")
_LOSS_RE = re.compile(r"^\s*loss:\s*(\S+)\s*$")
_ERROR_RE = re.compile(r"\s*([A-Za-z_][\w.]*):")  # the exception's name; the message is the rest, stripped
_NUMBER_RE = re.compile(r"-?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|nan|inf)")
_ENTRY_RE = re.compile(r"\(\s*'([\w.]+)'\s*,\s*tensor\(|'([\w.]+)'\s*:\s*tensor\(")
_GRAD_FN_RE = re.compile(r"grad_fn=<(\w+)>")


class PrintoutError(ValueError):
    """A printout that cannot be read; ``line`` is 1-based (0: the file as a whole)."""

    def __init__(self, line: int, message: str, source: str = ""):
        self.line, self.detail, self.source = line, message, source
        where = ": ".join(x for x in (source, f"line {line}" if line else "") if x)
        super().__init__(f"{where}: {message}" if where else message)

    def at(self, source: str) -> PrintoutError:
        return PrintoutError(self.line, self.detail, source)


@dataclass(frozen=True)
class PrintedTensor:
    """A tensor as printed: every entry's text (row-major), its shape and grad_fn."""

    texts: tuple[str, ...]
    shape: tuple[int, ...]
    grad_fn: str | None
    line: int

    def values(self) -> list[float]:
        return [float(t) for t in self.texts]


@dataclass
class Block:
    """One printed epoch."""

    epoch: int
    line: int  # of the header
    tensors: dict[str, PrintedTensor]  # ACTIVATION_PARTS then STATE_KEYS
    loss_text: str | None  # as printed after 'loss: ' (None when the run crashed here)
    halt: str | None = None  # the error's message when the run crashed at this epoch
    halt_line: int = 0

    @property
    def loss(self) -> float | None:
        return None if self.loss_text is None else float(self.loss_text)

    @property
    def units(self) -> int:
        return self.tensors["hide.bias"].shape[0]

    def entries(self) -> list[tuple[str, str]]:
        """(label, printed text) of every printed value; the loss slot last."""
        out = []
        for key, t in self.tensors.items():
            for n, text in enumerate(t.texts):
                out.append((f"{key}{_index(t.shape, n)}", text))
        out.append(("loss", f"loss: {self.loss_text}" if self.halt is None else f"{HALT_PREFIX}{self.halt}"))
        return out

    def state_dict(self) -> dict[str, list[Any]]:
        """The printed parameters under our names, as nested lists of floats."""
        sd: dict[str, list[Any]] = {}
        for key in STATE_KEYS:
            t = self.tensors[key]
            vals = t.values()
            sd[PARAM_NAMES[key]] = (
                [vals[r * t.shape[1] : (r + 1) * t.shape[1]] for r in range(t.shape[0])] if len(t.shape) == 2 else vals
            )
        return sd

    def activation_names(self) -> tuple[str, str]:
        return self._activation("hide activate output"), self._activation("out activate output")

    def _activation(self, part: str) -> str:
        fn = self.tensors[part].grad_fn
        assert fn is not None  # a block is read only when its grad_fns are known (_check_shapes)
        return GRAD_FNS[fn]


def _index(shape: tuple[int, ...], n: int) -> str:
    if len(shape) == 2:
        return f"[{n // shape[1]}][{n % shape[1]}]"
    return f"[{n}]"


@dataclass
class PrintedRun:
    """One run of the loop: its printed blocks in epoch order, from epoch 0."""

    number: int  # 1-based, in the file's order
    blocks: list[Block] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.blocks[0].line

    @property
    def epochs(self) -> list[int]:
        return [b.epoch for b in self.blocks]

    @property
    def halt(self) -> Block | None:
        last = self.blocks[-1]
        return last if last.halt is not None else None

    @property
    def total(self) -> int:
        return sum(len(b.entries()) for b in self.blocks)


def read_log_text(path: str | os.PathLike[str]) -> str:
    """A log file as text: UTF-8 (or UTF-16 with a BOM, as Windows shells write); binary refused.

    Only a regular file is read (a FIFO, a device or a folder is refused by what it is before
    a byte is read), and at most MAX_LOG_BYTES of it."""
    from xor_tui.core.io.files import ReadError, read_regular

    try:
        raw = read_regular(path, MAX_LOG_BYTES)
    except ReadError as exc:  # its message already names the file
        raise PrintoutError(0, str(exc).split(": ", 1)[-1], str(path)) from None
    return decode_log(raw, str(path))


def printed_runs(path: str | os.PathLike[str]) -> list[PrintedRun] | None:
    """The runs printed in ``path`` when it is a readable text file holding at least one, else
    None (cheap: no recovery). The caller recovers from these, without reading the file again."""
    try:
        return parse_log(read_log_text(path)) or None
    except ValueError:
        return None


def decode_log(raw: bytes, name: str = "log") -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise PrintoutError(0, "not a text file (broken UTF-16)", name) from None
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        raise PrintoutError(0, f"not a text file (binary data at byte {at})", name)
    # prose in another encoding does not matter: the printout itself is ASCII
    return raw.decode("utf-8-sig", errors="replace")


def parse_log(text: str, budget: Budget | None = None) -> list[PrintedRun]:
    """Every run printed in ``text``. Raises PrintoutError naming the line of a bad block (or of
    a value a float32 cannot hold), and at the caps (MAX_RUNS runs, MAX_BLOCKS printed epochs).
    ``budget`` is checked every few thousand lines (it raises OutOfTime or Cancelled)."""
    if len(text) > MAX_LOG_BYTES:
        raise PrintoutError(0, f"{len(text):,} characters; a printout log is read up to {MAX_LOG_BYTES:,}")
    lines = text.splitlines()
    runs: list[PrintedRun] = []
    blocks = 0
    i = 0
    next_check = 0
    while i < len(lines):
        if budget is not None and i >= next_check:
            budget.check()
            next_check = i + _CHECK_EVERY
        if "epoches" not in lines[i]:  # most lines: no regex at all
            i += 1
            continue
        m = HEADER_RE.match(lines[i])
        if not m:
            i += 1
            continue
        blocks += 1
        if blocks > MAX_BLOCKS:
            raise PrintoutError(
                i + 1, f"more than {MAX_BLOCKS:,} printed epochs; split the log (each part can be imported)"
            )
        block, i = _parse_block(lines, i, int(m.group(1)))
        if block.epoch == 0:
            if len(runs) == MAX_RUNS:
                raise PrintoutError(
                    block.line, f"more than {MAX_RUNS} runs in one log; split the log (each part can be imported)"
                )
            runs.append(PrintedRun(len(runs) + 1, [block]))
            continue
        if not runs:
            raise PrintoutError(
                block.line, f"epoch {block.epoch} is printed before any epoch 0; a run's printout starts at epoch 0"
            )
        prev = runs[-1].blocks[-1]
        if prev.halt is not None:
            raise PrintoutError(
                block.line, f"epoch {block.epoch} is printed after the run crashed at epoch {prev.epoch}"
            )
        if block.epoch <= prev.epoch:
            raise PrintoutError(
                block.line, f"epoch {block.epoch} follows epoch {prev.epoch}; a new run starts with epoch 0"
            )
        if block.units != prev.units:
            raise PrintoutError(block.line, f"the network has {block.units} hidden units here, {prev.units} before")
        runs[-1].blocks.append(block)
    if not runs:
        raise PrintoutError(
            0, f"no printout found: no line like '{header(0)}' (the student's loop prints one every epoch)"
        )
    return runs


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _parse_block(lines: list[str], start: int, epoch: int) -> tuple[Block, int]:
    i = start + 1
    tensors: dict[str, PrintedTensor] = {}
    for part in ACTIVATION_PARTS:
        i = _skip_blank(lines, i)
        if i >= len(lines) or not lines[i].lstrip().startswith(f"{part}:"):
            got = "the end of the file" if i >= len(lines) else repr(_short(lines[i]))
            raise PrintoutError(
                i + 1 if i < len(lines) else start + 1,
                f"epoch {epoch}: expected '{part}: tensor(...)', got {got}",
            )
        text, j = _gather(lines, i, f"epoch {epoch}: {part}")
        body = text.strip()[len(part) + 1 :].strip()
        tensors[part] = _parse_tensor(body, i + 1, f"epoch {epoch}: {part}")
        i = j
    i = _skip_blank(lines, i)
    if i >= len(lines) or not lines[i].lstrip().startswith("OrderedDict("):
        got = "the end of the file" if i >= len(lines) else repr(_short(lines[i]))
        raise PrintoutError(
            min(i, len(lines) - 1) + 1, f"epoch {epoch}: expected the state dict 'OrderedDict(...)', got {got}"
        )
    text, j = _gather(lines, i, f"epoch {epoch}: state dict")
    tensors.update(_parse_state_dict(text.strip(), i + 1, epoch))
    _check_shapes(tensors, epoch)
    i = _skip_blank(lines, j)
    loss_text = halt = None
    halt_line = 0
    m = _LOSS_RE.match(lines[i]) if i < len(lines) else None
    if m:
        loss_text = m.group(1)
        if (problem := _number_problem(loss_text, loss=True)) is not None:
            raise PrintoutError(i + 1, f"epoch {epoch}: the loss {problem}")
        i += 1
    else:
        # a crash: the traceback (or just its last line) stands where the loss would be
        k = i
        while k < len(lines) and k - i < _MAX_TRACEBACK_LINES and not HEADER_RE.match(lines[k]):
            em = _ERROR_RE.match(lines[k])
            if em and em.group(1).split(".")[-1] == "RuntimeError":
                halt, halt_line = lines[k][em.end() :].strip(), k + 1
                break
            k += 1
        if halt is None:
            raise PrintoutError(
                min(i, len(lines) - 1) + 1 if lines else 1,
                f"epoch {epoch}: expected 'loss: X' after the state dict (or the RuntimeError of a crash)",
            )
        i = k + 1
    return Block(epoch, start + 1, tensors, loss_text, halt, halt_line), i


def _short(line: str) -> str:
    line = line.strip()
    return line if len(line) <= 60 else line[:57] + "..."


def _short_number(text: str) -> str:
    """A number's text for a message: a long one cut in the middle, with its length said."""
    if len(text) <= 24:
        return text
    return f"{text[:10]}...{text[-6:]} ({len(text):,} characters)"


def _number_problem(text: str, loss: bool = False) -> str | None:
    """Why a printed number cannot be replayed (a float32 cannot hold it), or None."""
    if len(text) > MAX_NUMBER_CHARS:
        return f"{_short_number(text)} is too long for a printed number (at most {MAX_NUMBER_CHARS} characters)"
    try:
        v = float(text)
    except ValueError:
        return f"{_short_number(text)!r} is not a number"
    if text.lstrip("-").lower() in ("nan", "inf", "infinity"):
        return f"{text} is not finite; only a finite {'loss' if loss else 'value'} can be replayed"
    exponent = text.lower().partition("e")[2]
    if not math.isfinite(v) or abs(v) > FLOAT32_MAX or (exponent and abs(int(exponent)) > MAX_EXPONENT):
        return f"{_short_number(text)} is beyond float32's range (about ±3.4028e+38, down to 1.4013e-45)"
    return None


def _gather(lines: list[str], i: int, what: str) -> tuple[str, int]:
    """Lines from i until the parentheses opened on line i close; continuation lines start with '['."""
    depth = 0
    parts = []
    size = 0
    j = i
    while j < len(lines):
        line = lines[j]
        if j > i and not line.lstrip().startswith("[") and not line.lstrip().startswith("("):
            break
        size += len(line)
        if size > MAX_TENSOR_CHARS:  # what follows is read character by character: bounded here
            raise PrintoutError(
                j + 1, f"{what}: more than {MAX_TENSOR_CHARS:,} characters; a printed tensor is a few hundred"
            )
        parts.append(line)
        depth += line.count("(") - line.count(")")
        j += 1
        if depth <= 0:
            if depth < 0:
                raise PrintoutError(j, f"{what}: unbalanced parentheses")
            return "\n".join(parts), j
        if j - i > _MAX_TENSOR_LINES:
            break
    raise PrintoutError(i + 1, f"{what}: the tensor is not closed (truncated?)")


def _parse_tensor(body: str, line: int, what: str) -> PrintedTensor:
    if not body.startswith("tensor(") or not body.endswith(")"):
        raise PrintoutError(line, f"{what}: expected 'tensor(...)', got {_short(body)!r}")
    inner = body[len("tensor(") : -1]
    data, pos = _nested(inner, 0, line, what)
    rest = inner[pos:].strip()
    grad_fn = None
    if rest:
        if not rest.startswith(","):
            raise PrintoutError(line, f"{what}: unexpected {_short(rest)!r} after the values")
        m = _GRAD_FN_RE.search(rest)
        grad_fn = m.group(1) if m else None
    texts, shape = _flatten(data, line, what)
    return PrintedTensor(tuple(texts), shape, grad_fn, line)


def _nested(s: str, pos: int, line: int, what: str, depth: int = 0) -> tuple[list[Any], int]:
    """Parse '[...]' of numbers or nested lists starting at s[pos]; returns (list, end).

    ``line`` is the line of s[0]; an error names the line of the value it is about."""

    def at(k: int) -> int:
        return line + s.count("\n", 0, k)

    while pos < len(s) and s[pos].isspace():
        pos += 1
    if pos >= len(s) or s[pos] != "[":
        raise PrintoutError(at(pos), f"{what}: expected '[' in the tensor's values")
    if depth >= 2:  # a printed tensor here is a vector or a matrix
        raise PrintoutError(at(pos), f"{what}: values nested more than 2 deep; expected a vector or a matrix")
    pos += 1
    items: list[Any] = []  # number texts, or lists of them: _flatten checks which
    while True:
        while pos < len(s) and s[pos] in " \t\n\r,":
            pos += 1
        if pos >= len(s):
            raise PrintoutError(at(pos), f"{what}: the tensor's values are not closed")
        if s[pos] == "]":
            return items, pos + 1
        if s[pos] == "[":
            sub, pos = _nested(s, pos, line, what, depth + 1)
            items.append(sub)
            continue
        m = _NUMBER_RE.match(s, pos)
        if not m:
            raise PrintoutError(at(pos), f"{what}: {_short(s[pos : pos + 20])!r} is not a number")
        if m.end() < len(s) and s[m.end()] not in " \t\n\r,]":
            raise PrintoutError(at(pos), f"{what}: {_short(s[pos : m.end() + 5])!r} is not a number")
        if (problem := _number_problem(m.group(0))) is not None:
            raise PrintoutError(at(pos), f"{what}: {problem}")
        items.append(m.group(0))
        pos = m.end()


def _flatten(data: list[Any], line: int, what: str) -> tuple[list[str], tuple[int, ...]]:
    if all(isinstance(x, str) for x in data):
        return list(data), (len(data),)
    if all(isinstance(x, list) and all(isinstance(v, str) for v in x) for x in data):
        widths = {len(x) for x in data}
        if len(widths) != 1:
            raise PrintoutError(line, f"{what}: rows of different lengths")
        return [v for x in data for v in x], (len(data), widths.pop())
    raise PrintoutError(line, f"{what}: expected a vector or a matrix of numbers")


def _parse_state_dict(text: str, line: int, epoch: int) -> dict[str, PrintedTensor]:
    out: dict[str, PrintedTensor] = {}
    pos = counted = newlines = 0
    # each entry is searched for after the one before ends: a text of unclosed entries is
    # read once, not once per entry
    while (m := _ENTRY_RE.search(text, pos)) is not None:
        key = m.group(1) or m.group(2)
        # the tensor's text: from 'tensor(' to its closing parenthesis
        start = m.end() - len("tensor(")
        depth, k = 1, m.end()
        while k < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            k += 1
        pos = k
        newlines += text.count("\n", counted, start)  # counted once over the text, not per entry
        counted = start
        at = line + newlines
        if key in out:
            raise PrintoutError(at, f"state dict: {key} appears twice")
        if key in STATE_KEYS:
            out[key] = _parse_tensor(text[start:k], at, f"epoch {epoch}: state dict {key}")
    missing = [k for k in STATE_KEYS if k not in out]
    if missing:
        raise PrintoutError(line, f"state dict: no '{missing[0]}' (expected {', '.join(STATE_KEYS)})")
    return out


def _check_shapes(t: dict[str, PrintedTensor], epoch: int) -> None:
    w = t["hide.weight"]
    if len(w.shape) != 2 or w.shape[1] != 2 or not 1 <= w.shape[0] <= net.MAX_UNITS:
        raise PrintoutError(
            w.line, f"epoch {epoch}: hide.weight has shape {list(w.shape)}; expected [units, 2], 1 to 4 units"
        )
    h = w.shape[0]
    want = {
        "hide activate input": (4, h),
        "hide activate output": (4, h),
        "out activate input": (4, 1),
        "out activate output": (4, 1),
        "hide.bias": (h,),
        "out.weight": (1, h),
        "out.bias": (1,),
    }
    for key, shape in want.items():
        if t[key].shape != shape:
            raise PrintoutError(
                t[key].line, f"epoch {epoch}: {key} has shape {list(t[key].shape)}; expected {list(shape)}"
            )
    for part in ("hide activate output", "out activate output"):
        fn = t[part].grad_fn
        if fn not in GRAD_FNS:
            raise PrintoutError(t[part].line, f"epoch {epoch}: {part}: unknown activation (grad_fn {fn or 'missing'})")


def parse_lines(lines: list[str]) -> Block:
    """The one block in ``lines`` (our own printout of a record); PrintoutError when they do not
    begin with an epoch's header line."""
    m = HEADER_RE.match(lines[0]) if lines else None
    if m is None:
        raise PrintoutError(1, "expected a block's '####...epoches: N' header line")
    return _parse_block(lines, 0, int(m.group(1)))[0]


def compare(printed: Block, ours: Block) -> list[tuple[str, str, str]]:
    """(label, printed, ours) for every printed value that differs."""
    a, b = printed.entries(), ours.entries()
    if len(a) != len(b):
        return [(label, text, "?") for label, text in a]
    return [(la, ta, tb) for (la, ta), (_, tb) in zip(a, b) if ta != tb]
