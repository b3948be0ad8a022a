"""Scenario files: TOML holding a start state, settings, a script and expectations.

Loading checks every field and raises ScenarioError naming the file, the field and
what was expected; nothing else escapes. Saving is atomic and never overwrites
unless asked to.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import tomli_w

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.actions import ACTION_KINDS, ACTIONS, FLOAT32_MAX, MAX_SEED, Action, FieldError, check_seed
from xor_tui.core.engine.activations import NAMES as ACTIVATION_NAMES
from xor_tui.core.engine.activations import SpecError, parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import MAX_EPOCHS, Run, Start
from xor_tui.core.io.files import ReadError, load_state_dict, os_refuses, read_regular, write_atomic
from xor_tui.core.rules.checks import MAX_DIAGNOSED_WINDOW, Check
from xor_tui.core.text import printable

if TYPE_CHECKING:
    from xor_tui.core.io.folder import Files

TomlTable = dict[str, Any]
"""A TOML table: as tomllib reads one (values not checked yet) or as the writer builds one."""
_T = TypeVar("_T")

MAX_FILE_BYTES = 1_000_000
MAX_SCRIPT = 10_000


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names file, field and expectation."""

    def __init__(self, source: str, where: str, message: str) -> None:
        # everything echoed is escaped and bounded: a key or a path may hold anything
        source, where, message = printable(source, 200), printable(where, 120), printable(message, 400)
        self.source, self.where, self.detail = source, where, message
        super().__init__(f"{source}: {where}: {message}" if where else f"{source}: {message}")


@dataclass
class Expectation(Check):
    """A check on the scenario's own run (``[[expect]]``), with an optional printed block: the
    one the student's loop prints at ``epoch``, verbatim."""

    printed: str | None = None


@dataclass(frozen=True)
class Step:
    """A lesson's narrative (``[[step]]``): text shown on loading (``epoch`` None) or when the
    run reaches ``epoch``."""

    text: str
    epoch: int | None = None
    title: str = ""


@dataclass(frozen=True)
class RunTo:
    """A lesson entry that trains to ``epoch`` (or to a halt): ``{run = 98}``."""

    epoch: int

    def describe(self) -> str:
        """``run to epoch 98``"""
        return f"run to epoch {self.epoch}"


@dataclass(frozen=True)
class Task:
    """A lesson's task (``[[task]]``): what to do (``text``), how it is checked (``check``), and
    a scripted ``solution`` that proves it can be done (``xor-tui replay`` applies it headless).

    When the task begins, ``restart`` goes back to the lesson's start (dropping every edit),
    then the lesson's own ``setup`` entries apply (they are not the student's edits). Both
    ``setup`` and ``solution`` hold script actions without an epoch (they act on the current
    epoch) and ``RunTo`` entries."""

    title: str
    text: str
    check: Check
    solution: tuple[Action | RunTo, ...]
    setup: tuple[Action | RunTo, ...] = ()
    restart: bool = False
    hint: str = ""


@dataclass
class Scenario:
    name: str
    config: Config
    start: Start
    epochs: int = 200
    description: str = ""
    script: list[Action] = field(default_factory=list)
    expect: list[Expectation] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)

    def new_run(self) -> Run:
        return Run(self.config, self.start, self.script)

    @property
    def is_lesson(self) -> bool:
        """True when the scenario carries narrative steps or tasks."""
        return bool(self.steps or self.tasks)

    def steps_at(self, epoch: int | None) -> list[Step]:
        """The narrative steps shown at ``epoch`` (None: those shown on loading)."""
        return [st for st in self.steps if st.epoch == epoch]


# ---------------------------------------------------------------- reading

_TOP = {"name", "description", "epochs", "network", "training", "start", "script", "expect", "step", "task"}
_NETWORK = {"hidden", "activations"}
_TRAINING = {"loss", "lr", "layer_lr", "weight_decay", "decay_bias"}
_START = {"seed", "zeros", "params", "state_dict"}
_SCRIPT = {"epoch", "layer", "value", *ACTION_KINDS}
_PREDICATES = {
    "case",
    "dead",
    "dead_include",
    "alive",
    "halted",
    "loss",
    "tolerance",
    "loss_below",
    "loss_above",
    "flowing",
    "frozen",
    "activations",
    "symmetric",
    "margin",
}
_WINDOW = {"epoch", "from", "to", "by"}
_EXPECT = {*_PREDICATES, *_WINDOW, "printed"}
_CHECK = {*_PREDICATES, *_WINDOW, "max_edits"}
_STEP = {"text", "epoch", "title"}
_TASK = {"title", "text", "check", "solution", "setup", "restart", "hint"}
MAX_LESSON = 200  # steps, tasks
MAX_CHECKED_EPOCHS = 2_000_000  # epochs all the checks of a file look at, together


class _Reader:
    def __init__(self, source: str, files: Files | None = None) -> None:
        self.source = source
        self.files = files  # a folder.Files policy for the files this one refers to (None: any)
        self.spanned = 0  # epochs the checks read so far look at
        self.diagnosed = 0  # ... of which each needs a full diagnosis
        self.trained = 0  # epochs a lesson's task entries run, at most

    def fail(self, where: str, message: str) -> NoReturn:
        raise ScenarioError(self.source, where, message)

    def table(self, data: object, where: str, allowed: set[str]) -> TomlTable:
        if not isinstance(data, dict):
            self.fail(where, f"expected a table, got {_kind(data)}")
        for key in data:
            if key not in allowed:
                self.fail(
                    f"{where}.{key}" if where else key, f"unknown key; expected one of {', '.join(sorted(allowed))}"
                )
        return data

    def string(self, value: object, where: str, max_len: int = 10_000) -> str:
        if not isinstance(value, str):
            self.fail(where, f"expected text, got {_kind(value)}")
        if len(value) > max_len:
            self.fail(where, f"text is {len(value)} characters long; at most {max_len}")
        return value

    def integer(self, value: object, where: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"expected a whole number, got {_kind(value)}")
        if not lo <= value <= hi:
            self.fail(where, f"expected a whole number from {lo} to {hi}, got {_int_text(value)}")
        return value

    def number(self, value: object, where: str, lo: float = -FLOAT32_MAX, hi: float = FLOAT32_MAX) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(where, f"expected a number, got {_kind(value)}")
        if isinstance(value, int) and abs(value) > FLOAT32_MAX:
            self.fail(where, f"expected a number from {lo:g} to {hi:g}, got {_int_text(value)}")
        value = float(value)
        if not math.isfinite(value):
            self.fail(where, f"expected a finite number, got {value}")
        if not lo <= value <= hi:
            self.fail(where, f"expected a number from {lo:g} to {hi:g}, got {value:g}")
        return value

    def spec(self, where: str, check: Callable[..., _T], *args: object) -> _T:
        """Run one of the project's checks (they raise SpecError); a failure names ``where``."""
        try:
            return check(*args)
        except SpecError as exc:
            self.fail(where, str(exc).removeprefix(": "))

    def boolean(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_kind(value)}")
        return value

    def array(self, value: object, where: str, max_len: int) -> list[Any]:
        if not isinstance(value, list):
            self.fail(where, f"expected an array, got {_kind(value)}")
        if len(value) > max_len:
            self.fail(where, f"expected at most {max_len} entries, got {len(value)}")
        return value


def _int_text(value: int) -> str:
    return str(value) if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"a number ({_int_text(value)})"
    if isinstance(value, float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


MAX_KEY_PARTS = 16  # a.b.c = 1 has 3; this project's deepest key has 2
MAX_NESTING = 16  # arrays and inline tables inside each other

_TOKENS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}=,.\n]')


def _prescan(text: str, source: str) -> None:
    """Refuse, before parsing, keys of too many dotted parts and values nested too deeply.

    tomllib takes minutes on a 100,000-part dotted key; this scan is one regex pass. A
    dot counts when it is in a key: a table header, or before the ``=`` of a key/value.
    """
    stack: list[str] = []  # open [ and { of values
    in_key, in_header, parts, line = True, False, 0, 1
    for m in _TOKENS.finditer(text):
        t = m.group()
        if t == "\n":
            line += 1
            if not stack:
                in_key, in_header, parts = True, False, 0
        elif t == ".":
            if in_key or in_header:
                parts += 1
                if parts >= MAX_KEY_PARTS:
                    raise ScenarioError(source, "", f"line {line}: a key of more than {MAX_KEY_PARTS} dotted parts")
        elif t == "=":
            in_key, parts = False, 0
        elif t in "[{":
            if in_key and not stack and t == "[":
                in_header = True
                continue
            if in_header:
                continue
            stack.append(t)
            if len(stack) > MAX_NESTING:
                raise ScenarioError(source, "", f"line {line}: values nested more than {MAX_NESTING} deep")
            in_key = t == "{"
        elif t in "]}":
            if in_header:
                continue
            if stack:
                stack.pop()
            in_key = False
        elif t == "," and stack and stack[-1] == "{":
            in_key, parts = True, 0


def parse(text: str, source: str = "<scenario>", files: Files | None = None) -> Scenario:
    """A scenario from TOML text; ``files`` (a folder.Files) confines the files it refers to."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark, as some editors write
    _prescan(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(source, "", "not valid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        detail = "an integer of more than 4,300 digits" if "digits" in str(exc) else str(exc)
        raise ScenarioError(source, "", f"not usable TOML: {detail}") from None
    return from_dict(data, source, files)


def from_dict(data: TomlTable, source: str = "<scenario>", files: Files | None = None) -> Scenario:
    """A scenario from parsed TOML; ``files`` (a folder.Files) confines the files it refers to."""
    rd = _Reader(source, files)
    rd.table(data, "", _TOP)
    if "name" not in data:
        rd.fail("name", "missing; every scenario needs a name")
    name = rd.string(data["name"], "name", 200)
    if not name.strip():
        rd.fail("name", "must not be empty")
    description = rd.string(data.get("description", ""), "description")
    epochs = rd.integer(data.get("epochs", 200), "epochs", 0, MAX_EPOCHS)

    network = rd.table(data.get("network", {}), "network", _NETWORK)
    units = rd.array(network.get("hidden", [2]), "network.hidden", net.MAX_HIDDEN_LAYERS)
    if not units:
        rd.fail("network.hidden", "expected 1 or 2 hidden layers, got none")
    hidden = tuple(rd.integer(u, f"network.hidden[{i}]", 1, net.MAX_UNITS) for i, u in enumerate(units))
    n_layers = len(hidden) + 1
    act_specs = rd.array(network.get("activations", ["relu"] * n_layers), "network.activations", 10)
    if len(act_specs) != n_layers:
        rd.fail(
            "network.activations",
            f"expected {n_layers} activations (one per layer: "
            f"{', '.join(net.layer_names(len(hidden)))}), got {len(act_specs)}",
        )
    acts = []
    for i, spec in enumerate(act_specs):
        try:
            acts.append(parse_activation(spec))
        except SpecError as exc:
            rd.fail(f"network.activations[{i}]", str(exc))

    tr = rd.table(data.get("training", {}), "training", _TRAINING)
    loss = rd.spec("training.loss", losses.check_name, rd.string(tr.get("loss", "bce"), "training.loss", 50))
    lr = rd.spec("training.lr", net.check_lr, rd.number(tr.get("lr", 0.001), "training.lr"), "")
    layer_lr = None
    if "layer_lr" in tr:
        arr = rd.array(tr["layer_lr"], "training.layer_lr", 10)
        if len(arr) != n_layers:
            rd.fail("training.layer_lr", f"expected {n_layers} learning rates (one per layer), got {len(arr)}")
        layer_lr = tuple(
            rd.spec(f"training.layer_lr[{i}]", net.check_lr, rd.number(v, f"training.layer_lr[{i}]"), "")
            for i, v in enumerate(arr)
        )
    wd = rd.number(tr.get("weight_decay", 0.0), "training.weight_decay", 0.0, 10.0)
    decay_bias = rd.boolean(tr.get("decay_bias", False), "training.decay_bias")
    try:
        config = Config(hidden, tuple(acts), loss, lr, layer_lr, wd, decay_bias)
    except SpecError as exc:
        rd.fail("network", str(exc))

    start = _read_start(rd, data.get("start", {"seed": 0}), config)
    script = _read_script(rd, data.get("script", []), config, epochs)
    expect = _read_expect(rd, data.get("expect", []), config, epochs)
    steps = _read_steps(rd, data.get("step", []), epochs)
    tasks = _read_tasks(rd, data.get("task", []), config)
    return Scenario(name, config, start, epochs, description, script, expect, steps, tasks)


def _read_start(rd: _Reader, raw: object, config: Config) -> Start:
    st = rd.table(raw, "start", _START)
    given = [k for k in ("seed", "zeros", "params", "state_dict") if k in st]
    if len(given) != 1:
        got = f", got {' and '.join(given)}" if given else ""
        rd.fail("start", f"expected exactly one of seed, zeros, params or state_dict{got}")
    if "seed" in st:
        return Start("seed", seed=rd.spec("start.seed", check_seed, rd.integer(st["seed"], "start.seed", 0, MAX_SEED)))
    if "zeros" in st:
        if rd.boolean(st["zeros"], "start.zeros") is not True:
            rd.fail("start.zeros", "expected true (or use seed or params instead)")
        return Start("zeros")
    if "state_dict" in st:
        # a PyTorch file next to the scenario, read with weights_only=True
        rel = rd.string(st["state_dict"], "start.state_dict", 4096)
        base = Path(rd.source).parent if not rd.source.startswith(("<", "built-in")) else Path(".")
        try:
            target = base / rel if rd.files is None else rd.files.check_reference(base / rel)
            values = load_state_dict(target)
            net.from_state_dict(values, config)
        except (SpecError, OSError) as exc:  # OSError: the policy refused the path (folder.Refused)
            rd.fail("start.state_dict", str(exc))
        return Start("explicit", values=values)
    params = rd.table(
        st["params"], "start.params", {f"{n}.{k}" for n in config.layer_names for k in ("weight", "bias")}
    )
    for key in params:
        _check_numbers(rd, params[key], f"start.params.{key}", 0)
    try:
        net.from_state_dict(params, config)
    except SpecError as exc:
        rd.fail("start.params", str(exc))
    return Start("explicit", values={k: v for k, v in params.items()})


def _check_numbers(rd: _Reader, value: object, where: str, depth: int) -> None:
    if depth > 2:
        rd.fail(where, "nested too deeply; expected a list of numbers or of lists of numbers")
    if isinstance(value, list):
        if len(value) > net.MAX_UNITS:
            rd.fail(where, f"expected at most {net.MAX_UNITS} entries, got {len(value)}")
        for i, v in enumerate(value):
            _check_numbers(rd, v, f"{where}[{i}]", depth + 1)
    else:
        rd.number(value, where)


_SCRIPT_TYPES = {
    "set": "string",
    "value": "number",
    "activation": "string",
    "layer": "string",
    "lr": "number",
    "loss": "string",
    "reseed": "whole",
    "zeros": "boolean",
}


def _read_script(rd: _Reader, raw: object, config: Config, epochs: int, where: str | None = None) -> list[Action]:
    items = rd.array(raw, "script", MAX_SCRIPT)
    actions = []
    single = where
    for n, item in enumerate(items):
        where = single or f"script[{n}]"
        it = rd.table(item, where, _SCRIPT)
        if "epoch" not in it:
            rd.fail(f"{where}.epoch", "missing; each action says at which epoch it happens")
        epoch = rd.integer(it["epoch"], f"{where}.epoch", 0, epochs)
        kinds = [k for k in ACTION_KINDS if k in it]
        if len(kinds) != 1:
            rd.fail(
                where,
                f"expected exactly one action key of {', '.join(ACTION_KINDS)}"
                + (f", got {' and '.join(kinds)}" if kinds else ""),
            )
        cls = ACTIONS[kinds[0]]
        for key in it:
            if key != "epoch" and key not in cls.KEYS:
                rd.fail(f"{where}.{key}", f"not used by a {cls.kind!r} action")
            kind = _SCRIPT_TYPES.get(key)
            if kind == "string":
                rd.string(it[key], f"{where}.{key}", 100)
            elif kind == "number":
                rd.number(it[key], f"{where}.{key}")
            elif kind == "whole":
                rd.integer(it[key], f"{where}.{key}", 0, MAX_SEED)
            elif kind == "boolean":
                rd.boolean(it[key], f"{where}.{key}")
        try:
            action = cls.from_toml(epoch, it)
            action.check(config)
        except FieldError as exc:
            rd.fail(f"{where}.{exc.key}", str(exc))
        except SpecError as exc:
            rd.fail(f"{where}.{cls.kind}", str(exc))
        actions.append(action)
    return actions


def _read_expect(rd: _Reader, raw: object, config: Config, epochs: int) -> list[Expectation]:
    items = rd.array(raw, "expect", MAX_SCRIPT)
    out = []
    for n, item in enumerate(items):
        where = f"expect[{n}]"
        it = rd.table(item, where, _EXPECT)
        ex = Expectation()
        _read_check(rd, it, where, config, epochs, ex, task=False)
        if "printed" in it:
            text = rd.string(it["printed"], f"{where}.printed", 20_000).strip("\n")
            if len(config.hidden) != 1:
                rd.fail(f"{where}.printed", "the student's printout shows a network with one hidden layer")
            if not text.startswith("##########################epoches:"):
                rd.fail(f"{where}.printed", "expected a printed block, starting with its '####...epoches: N' header")
            if ex.epoch is None:
                rd.fail(f"{where}.printed", "a printed block belongs to one epoch: give epoch = N")
            ex.printed = text
        if not set(it) - _WINDOW - {"tolerance"}:
            said = ", ".join(sorted(_EXPECT - _WINDOW - {"tolerance"}))
            rd.fail(where, f"expects nothing; give at least one of {said}")
        out.append(ex)
    return out


def _read_check(rd: _Reader, it: TomlTable, where: str, config: Config, epochs: int, ck: Check, task: bool) -> None:
    """Fill ``ck`` from the keys of an ``[[expect]]`` entry or a task's ``check`` table. An
    expectation needs a window within the scenario's epochs; a task's window is optional (the
    current epoch) and may reach past them."""
    limit = MAX_EPOCHS if task else epochs
    windows = [k for k in ("epoch", "from", "by") if k in it]
    if "to" in it and "from" not in it:
        rd.fail(f"{where}.to", "a window from A to B needs both from and to")
    if len(windows) > 1:
        rd.fail(where, f"give one window (epoch, from/to or by), got {' and '.join(windows)}")
    if not windows and not task:
        rd.fail(f"{where}.epoch", "missing; each expectation says when it holds: epoch = N, from/to, or by = N")
    if "epoch" in it:
        ck.epoch = rd.integer(it["epoch"], f"{where}.epoch", 0, limit)
    if "from" in it:
        if "to" not in it:
            rd.fail(f"{where}.from", "a window from A to B needs both from and to")
        ck.start = rd.integer(it["from"], f"{where}.from", 0, limit)
        ck.end = rd.integer(it["to"], f"{where}.to", ck.start, limit)
    if "by" in it:
        ck.by = rd.integer(it["by"], f"{where}.by", 0, limit)
    units = {f"{n}[{j}]" for li, n in enumerate(config.layer_names) for j in range(config.sizes[li + 1])}
    if "case" in it:
        case = it["case"]
        if case != "none" and (isinstance(case, bool) or not isinstance(case, int) or not 1 <= case <= 8):
            rd.fail(f"{where}.case", f'expected a case number 1 to 8 or "none", got {_kind(case)}')
        ck.case = case
    for key in ("dead", "dead_include", "alive"):
        if key not in it:
            continue
        names = []  # each as in files and messages (hidden[0]); the screen's h[0] is accepted too
        for i, u in enumerate(rd.array(it[key], f"{where}.{key}", 20)):
            try:
                name = net.parse_unit(rd.string(u, f"{where}.{key}[{i}]", 50), config).name(config)
            except SpecError:
                rd.fail(f"{where}.{key}[{i}]", f"unknown unit {u!r}; expected one of {', '.join(sorted(units))}")
            if name in names:
                rd.fail(f"{where}.{key}[{i}]", f"{u!r} is listed twice")
            names.append(name)
        if key == "dead":
            ck.dead = sorted(names)
        else:
            setattr(ck, key, tuple(names))
    for key in ("flowing", "frozen"):
        if key not in it:
            continue
        names = rd.array(it[key], f"{where}.{key}", 64)
        refs = []
        for i, name in enumerate(names):
            ref = rd.spec(f"{where}.{key}[{i}]", net.parse_param, rd.string(name, f"{where}.{key}[{i}]", 50), config)
            refs.append(ref.name(config))
        setattr(ck, key, tuple(refs))
    if "activations" in it:
        acts = rd.array(it["activations"], f"{where}.activations", 10)
        if len(acts) != len(config.layer_names):
            rd.fail(
                f"{where}.activations",
                f"expected {len(config.layer_names)} names (one per layer: {', '.join(config.layer_names)}), "
                f"got {len(acts)}",
            )
        for i, a in enumerate(acts):
            name = rd.string(a, f"{where}.activations[{i}]", 50)
            if name != "any" and name not in ACTIVATION_NAMES:
                known = ", ".join(ACTIVATION_NAMES)
                rd.fail(f"{where}.activations[{i}]", f"unknown activation {name!r}; expected any, {known}")
        ck.activations = tuple(acts)
    for key in ("halted", "symmetric"):
        if key in it:
            setattr(ck, key, rd.boolean(it[key], f"{where}.{key}"))
    for key in ("loss", "loss_below", "loss_above"):
        if key in it:
            setattr(ck, key, rd.number(it[key], f"{where}.{key}"))
    if "tolerance" in it:
        ck.tolerance = rd.number(it["tolerance"], f"{where}.tolerance", 0.0, 1e6)
    if "margin" in it:
        ck.margin = rd.number(it["margin"], f"{where}.margin", 0.0, 1.0)
    if "max_edits" in it:
        ck.max_edits = rd.integer(it["max_edits"], f"{where}.max_edits", 0, 9)
    span = ((ck.end - ck.start) if ck.start is not None and ck.end is not None else ck.by or 0) + 1  # set together
    # every check of a file together looks at a bounded number of epochs: a replay stays seconds long
    rd.spanned += span
    if rd.spanned > MAX_CHECKED_EPOCHS:
        rd.fail(where, f"the file's checks together span more than {MAX_CHECKED_EPOCHS:,} epochs")
    if ck.needs_diagnosis:
        rd.diagnosed += span
        if rd.diagnosed > MAX_DIAGNOSED_WINDOW:
            rd.fail(
                where,
                f"flowing, frozen, symmetric and margin are checked over at most {MAX_DIAGNOSED_WINDOW:,} "
                "epochs in all (each epoch's gradients are computed)",
            )


def _read_steps(rd: _Reader, raw: object, epochs: int) -> list[Step]:
    items = rd.array(raw, "step", MAX_LESSON)
    out = []
    for n, item in enumerate(items):
        where = f"step[{n}]"
        it = rd.table(item, where, _STEP)
        if "text" not in it:
            rd.fail(f"{where}.text", "missing; a step is text to show")
        text = rd.string(it["text"], f"{where}.text")
        epoch = rd.integer(it["epoch"], f"{where}.epoch", 0, epochs) if "epoch" in it else None
        out.append(Step(text, epoch, rd.string(it.get("title", ""), f"{where}.title", 100)))
    return out


def _read_tasks(rd: _Reader, raw: object, config: Config) -> list[Task]:
    items = rd.array(raw, "task", MAX_LESSON)
    out = []
    for n, item in enumerate(items):
        where = f"task[{n}]"
        it = rd.table(item, where, _TASK)
        for key in ("title", "text", "check", "solution"):
            if key not in it:
                rd.fail(f"{where}.{key}", "missing; a task has a title, a text, a check and a solution")
        title = rd.string(it["title"], f"{where}.title", 100)
        text = rd.string(it["text"], f"{where}.text")
        ck = Check()
        _read_check(rd, rd.table(it["check"], f"{where}.check", _CHECK), f"{where}.check", config, MAX_EPOCHS, ck, True)
        if not set(it["check"]) - _WINDOW:
            rd.fail(f"{where}.check", "checks nothing; give at least one of " + ", ".join(sorted(_CHECK - _WINDOW)))
        solution = _read_entries(rd, it["solution"], f"{where}.solution", config)
        if not solution:
            rd.fail(f"{where}.solution", "empty; a solution proves the task can be done")
        setup = _read_entries(rd, it.get("setup", []), f"{where}.setup", config)
        restart = rd.boolean(it.get("restart", False), f"{where}.restart")
        hint = rd.string(it.get("hint", ""), f"{where}.hint")
        out.append(Task(title, text, ck, tuple(solution), tuple(setup), restart, hint))
    return out


def _read_entries(rd: _Reader, raw: object, where: str, config: Config) -> list[Action | RunTo]:
    """A task's setup or solution: script actions without an epoch, or ``{run = N}``."""
    items = rd.array(raw, where, 1000)
    out: list[Action | RunTo] = []
    for n, item in enumerate(items):
        w = f"{where}[{n}]"
        it = rd.table(item, w, (_SCRIPT - {"epoch"}) | {"run"})
        if "run" in it:
            if len(it) != 1:
                rd.fail(w, "a run entry holds only run = EPOCH")
            out.append(RunTo(rd.integer(it["run"], f"{w}.run", 0, MAX_EPOCHS)))
            rd.trained += out[-1].epoch  # bounded as if every run began at epoch 0
            if rd.trained > MAX_EPOCHS:
                rd.fail(f"{w}.run", f"a lesson's runs add up to more than {MAX_EPOCHS:,} epochs")
            continue
        actions = _read_script(rd, [{"epoch": 0, **it}], config, 0, where=w)
        out.append(actions[0])
    return out


def load(path: str | os.PathLike[str], files: Files | None = None) -> Scenario:
    """A scenario file; ``files`` (a folder.Files) confines the files it refers to."""
    source = str(path)
    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except ReadError as exc:
        raise ScenarioError(source, "", str(exc).split(": ", 1)[-1]) from None
    if raw.startswith(b"PK\x03\x04"):
        raise ScenarioError(
            source,
            "",
            "a PyTorch file (a zip archive), not a scenario; to start from its weights, write "
            'a scenario with [start] state_dict = "FILE.pt", or press f in the app',
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return parse(text, source, files)
    except ScenarioError as exc:
        other = _other_format(text)
        if other is None:
            raise
        raise ScenarioError(source, "", other) from exc


def _other_format(text: str) -> str | None:
    """What a file that is not a scenario is, when it is one of the other files of this tool's
    world (a printout log, a CSV table), said with what to do with it; else None."""
    from xor_tui.core.io.printout import HEADER_RE

    lines = text.removeprefix("\ufeff").splitlines()
    if any(HEADER_RE.match(line) for line in lines):
        return (
            "a printout log of the student's loop, not a scenario: `xor-tui import FILE` writes a scenario "
            "for each of its runs, and f in the app opens it"
        )
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.count(",") >= 2 and "=" not in first and not first.startswith(("[", "#")):
        what = "a run's CSV table (as --csv writes it)" if first.startswith("epoch,loss,") else "a CSV table"
        return f"{what}, not a scenario: a scenario is a TOML file (`xor-tui cases` lists the built-in ones)"
    return None


# ---------------------------------------------------------------- built in


def builtin_names() -> list[str]:
    files = resources.files("xor_tui") / "scenarios"
    names = [f.name[:-5] for f in files.iterdir() if f.name.endswith(".toml")]
    return sorted(names, key=_builtin_order)


def _builtin_order(name: str) -> tuple[bool, str, int, str]:
    return (not name.startswith("case"), name.split("-")[0], len(name), name)


def builtin(name: str) -> Scenario:
    f = resources.files("xor_tui") / "scenarios" / f"{name}.toml"
    if not f.is_file():
        raise ScenarioError(name, "", f"no built-in scenario of that name; try one of {', '.join(builtin_names())}")
    return parse(f.read_text(encoding="utf-8"), f"built-in {name}")


def resolve(name_or_path: str) -> Scenario:
    """A built-in name, else a path."""
    if name_or_path in builtin_names():
        return builtin(name_or_path)
    why = os_refuses(name_or_path)
    if why:
        raise ScenarioError(name_or_path, "", why)
    if not name_or_path.endswith(".toml") and not os.path.exists(name_or_path):
        raise ScenarioError(
            name_or_path, "", "neither a built-in scenario nor a file; built-in: " + ", ".join(builtin_names())
        )
    return load(name_or_path)


# ---------------------------------------------------------------- writing


def to_dict(sc: Scenario) -> TomlTable:
    """The scenario as a TOML document (what ``dumps`` writes)."""
    c = sc.config
    d: TomlTable = {"name": sc.name}
    if sc.description:
        d["description"] = sc.description
    d["epochs"] = sc.epochs
    d["network"] = {"hidden": list(c.hidden), "activations": [a.spec for a in c.activations]}
    tr: TomlTable = {"loss": c.loss, "lr": c.lr}
    if c.layer_lr is not None:
        tr["layer_lr"] = list(c.layer_lr)
    tr["weight_decay"] = c.weight_decay
    tr["decay_bias"] = c.decay_bias
    d["training"] = tr
    if sc.start.kind == "seed":
        d["start"] = {"seed": sc.start.seed}
    elif sc.start.kind == "zeros":
        d["start"] = {"zeros": True}
    else:
        # each float32 written as its exact value in float64 (e.g. 0.1961 as 0.19609999656677246),
        # which reads back to the very same float32
        assert sc.start.values is not None  # an explicit start carries its values
        params = net.from_state_dict(sc.start.values, c)
        sd = net.state_dict(params, c)
        d["start"] = {"params": {k: _f32_lists(v.tolist()) for k, v in sd.items()}}
    if sc.script:
        d["script"] = [a.to_toml() for a in sc.script]
    if sc.expect:
        d["expect"] = [_expect_dict(e) for e in sc.expect]
    if sc.steps:
        d["step"] = [_step_dict(st) for st in sc.steps]
    if sc.tasks:
        d["task"] = [_task_dict(t) for t in sc.tasks]
    return d


_Floats = float | list["_Floats"]
"""A float, or lists of them nested (a tensor's ``tolist()``)."""


def _f32_lists(v: _Floats) -> _Floats:
    if isinstance(v, list):
        return [_f32_lists(x) for x in v]
    return float(v)


def _check_dict(e: Check) -> TomlTable:
    d: TomlTable = {}
    if e.epoch is not None:
        d["epoch"] = e.epoch
    if e.start is not None:
        d["from"], d["to"] = e.start, e.end
    if e.by is not None:
        d["by"] = e.by
    if e.case is not None:
        d["case"] = e.case
    if e.dead is not None:
        d["dead"] = e.dead
    for key in ("dead_include", "alive", "flowing", "frozen"):
        if getattr(e, key):
            d[key] = list(getattr(e, key))
    if e.activations is not None:
        d["activations"] = list(e.activations)
    for key in ("halted", "symmetric", "loss_below", "loss_above", "margin", "max_edits"):
        if getattr(e, key) is not None:
            d[key] = getattr(e, key)
    if e.loss is not None:
        d["loss"] = e.loss
        d["tolerance"] = e.tolerance
    return d


def _expect_dict(e: Expectation) -> TomlTable:
    d = _check_dict(e)
    if e.printed is not None:
        d["printed"] = e.printed
    return d


def _entry_dict(entry: Action | RunTo) -> dict[str, object]:
    if isinstance(entry, RunTo):
        return {"run": entry.epoch}
    d = entry.to_toml()
    d.pop("epoch", None)
    return d


def _step_dict(st: Step) -> TomlTable:
    d: TomlTable = {"text": st.text}
    if st.epoch is not None:
        d["epoch"] = st.epoch
    if st.title:
        d["title"] = st.title
    return d


def _task_dict(t: Task) -> TomlTable:
    d: TomlTable = {"title": t.title, "text": t.text}
    if t.restart:
        d["restart"] = True
    if t.setup:
        d["setup"] = [_entry_dict(x) for x in t.setup]
    d["check"] = _check_dict(t.check)
    d["solution"] = [_entry_dict(x) for x in t.solution]
    if t.hint:
        d["hint"] = t.hint
    return d


def dumps(sc: Scenario, notes: dict[str, list[str]] | None = None) -> str:
    """The scenario as TOML text. With ``notes`` (comment lines by section: "" for the top of
    the file, "start" for the [start] table, "expect[i]" for the i-th expectation), the text is
    laid out for reading, one section after another with its comments (as ``import`` writes it)."""
    if notes is None:
        return tomli_w.dumps(to_dict(sc))
    return _annotated(to_dict(sc), notes)


def toml_value(v: object) -> str:
    """One TOML value on one line: strings escaped as tomli_w escapes them, floats exactly
    (repr: a float32 stored in a float reads back as the very same float32), arrays inline."""
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return tomli_w.dumps({"v": v})[len("v = ") :].rstrip("\n")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def _comments(lines: list[str]) -> list[str]:
    # a note is one line each, whatever it holds (a newline in it would end the comment)
    return ["# " + printable(line, 1000) if line else "#" for line in lines]


def _annotated(d: TomlTable, notes: dict[str, list[str]]) -> str:
    out = _comments(notes.get("", []))

    def table(header: str, body: TomlTable, note: str) -> None:
        out.extend(["", header])
        out.extend(_comments(notes.get(note, [])))
        for key, value in body.items():
            if not isinstance(value, dict):
                out.append(f"{_toml_key(key)} = {toml_value(value)}")
        for key, value in body.items():
            if isinstance(value, dict):  # a sub-table (start.params)
                out.append(f"{header[:-1]}.{_toml_key(key)}]")
                out.extend(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())

    out.extend(f"{_toml_key(k)} = {toml_value(v)}" for k, v in d.items() if not isinstance(v, (dict, list)))
    for key in ("network", "training", "start"):
        if key in d:
            table(f"[{key}]", d[key], key)
    for key in ("script", "expect"):
        for i, item in enumerate(d.get(key, [])):
            out.extend(["", f"[[{key}]]"])
            out.extend(_comments(notes.get(f"{key}[{i}]", [])))
            out.extend(f"{_toml_key(k)} = {toml_value(v)}" for k, v in item.items())
    rest = {k: v for k, v in d.items() if isinstance(v, list) and k not in ("script", "expect")}
    if rest:  # a lesson's steps and tasks (nested tables): as tomli_w writes them, after the rest
        out.extend(["", tomli_w.dumps(rest).rstrip("\n")])
    return "\n".join(out).lstrip("\n") + "\n"


def save(
    sc: Scenario, path: str | os.PathLike[str], overwrite: bool = False, notes: dict[str, list[str]] | None = None
) -> Path:
    """Write atomically; an existing file is kept unless ``overwrite``. ``notes``: see dumps.

    The text is read back first exactly as ``replay`` would read it: a scenario that
    ``replay`` would refuse (an empty or overlong name, too many script entries...) is
    not written, and ScenarioError says why in one line.
    """
    return write_atomic(path, checked_text(sc, path, notes), overwrite)


def checked_text(
    sc: Scenario, path: str | os.PathLike[str] = "<scenario>", notes: dict[str, list[str]] | None = None
) -> str:
    """``sc`` as the TOML text ``save`` writes (``notes``: see dumps), read back first as
    ``replay`` would: raises ScenarioError (one line) for a scenario that could not be replayed."""
    text = dumps(sc, notes)
    parse(text, str(path))
    return text
