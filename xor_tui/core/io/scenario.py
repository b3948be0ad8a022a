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
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import tomli_w

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.actions import ACTION_KINDS, ACTIONS, FLOAT32_MAX, MAX_SEED, Action, FieldError, check_seed
from xor_tui.core.engine.activations import SpecError, parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import MAX_EPOCHS, Run, Start
from xor_tui.core.io.files import ReadError, load_state_dict, os_refuses, read_regular, write_atomic
from xor_tui.core.text import printable

MAX_FILE_BYTES = 1_000_000
MAX_SCRIPT = 10_000


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names file, field and expectation."""

    def __init__(self, source: str, where: str, message: str):
        # everything echoed is escaped and bounded: a key or a path may hold anything
        source, where, message = printable(source, 200), printable(where, 120), printable(message, 400)
        self.source, self.where, self.detail = source, where, message
        super().__init__(f"{source}: {where}: {message}" if where else f"{source}: {message}")


@dataclass
class Expectation:
    epoch: int
    case: int | str | None = None  # an int, "none", or None (not checked)
    dead: list[str] | None = None
    halted: bool | None = None
    loss: float | None = None
    tolerance: float = 1e-4
    printed: str | None = None  # the block the student's loop prints at this epoch, verbatim


@dataclass
class Scenario:
    name: str
    config: Config
    start: Start
    epochs: int = 200
    description: str = ""
    script: list[Action] = field(default_factory=list)
    expect: list[Expectation] = field(default_factory=list)

    def new_run(self) -> Run:
        return Run(self.config, self.start, self.script)


# ---------------------------------------------------------------- reading

_TOP = {"name", "description", "epochs", "network", "training", "start", "script", "expect"}
_NETWORK = {"hidden", "activations"}
_TRAINING = {"loss", "lr", "layer_lr", "weight_decay", "decay_bias"}
_START = {"seed", "zeros", "params", "state_dict"}
_SCRIPT = {"epoch", "layer", "value", *ACTION_KINDS}
_EXPECT = {"epoch", "case", "dead", "halted", "loss", "tolerance", "printed"}


class _Reader:
    def __init__(self, source: str, files=None):
        self.source = source
        self.files = files  # a folder.Files policy for the files this one refers to (None: any)

    def fail(self, where: str, message: str):
        raise ScenarioError(self.source, where, message)

    def table(self, data, where: str, allowed: set[str]) -> dict:
        if not isinstance(data, dict):
            self.fail(where, f"expected a table, got {_kind(data)}")
        for key in data:
            if key not in allowed:
                self.fail(
                    f"{where}.{key}" if where else key, f"unknown key; expected one of {', '.join(sorted(allowed))}"
                )
        return data

    def string(self, value, where: str, max_len: int = 10_000) -> str:
        if not isinstance(value, str):
            self.fail(where, f"expected text, got {_kind(value)}")
        if len(value) > max_len:
            self.fail(where, f"text is {len(value)} characters long; at most {max_len}")
        return value

    def integer(self, value, where: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"expected a whole number, got {_kind(value)}")
        if not lo <= value <= hi:
            self.fail(where, f"expected a whole number from {lo} to {hi}, got {_int_text(value)}")
        return value

    def number(self, value, where: str, lo: float = -FLOAT32_MAX, hi: float = FLOAT32_MAX) -> float:
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

    def spec(self, where: str, check, *args):
        """Run one of the project's checks (they raise SpecError); a failure names ``where``."""
        try:
            return check(*args)
        except SpecError as exc:
            self.fail(where, str(exc).removeprefix(": "))

    def boolean(self, value, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_kind(value)}")
        return value

    def array(self, value, where: str, max_len: int) -> list:
        if not isinstance(value, list):
            self.fail(where, f"expected an array, got {_kind(value)}")
        if len(value) > max_len:
            self.fail(where, f"expected at most {max_len} entries, got {len(value)}")
        return value


def _int_text(value: int) -> str:
    return str(value) if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"


def _kind(value) -> str:
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


def parse(text: str, source: str = "<scenario>", files=None) -> Scenario:
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


def from_dict(data: dict, source: str = "<scenario>", files=None) -> Scenario:
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
    hidden = rd.array(network.get("hidden", [2]), "network.hidden", net.MAX_HIDDEN_LAYERS)
    if not hidden:
        rd.fail("network.hidden", "expected 1 or 2 hidden layers, got none")
    hidden = tuple(rd.integer(u, f"network.hidden[{i}]", 1, net.MAX_UNITS) for i, u in enumerate(hidden))
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
    return Scenario(name, config, start, epochs, description, script, expect)


def _read_start(rd: _Reader, raw, config: Config) -> Start:
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


def _check_numbers(rd: _Reader, value, where: str, depth: int) -> None:
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


def _read_script(rd: _Reader, raw, config: Config, epochs: int) -> list[Action]:
    items = rd.array(raw, "script", MAX_SCRIPT)
    actions = []
    for n, item in enumerate(items):
        where = f"script[{n}]"
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


def _read_expect(rd: _Reader, raw, config: Config, epochs: int) -> list[Expectation]:
    items = rd.array(raw, "expect", MAX_SCRIPT)
    out = []
    units = {f"{n}[{j}]" for li, n in enumerate(config.layer_names) for j in range(config.sizes[li + 1])}
    for n, item in enumerate(items):
        where = f"expect[{n}]"
        it = rd.table(item, where, _EXPECT)
        if "epoch" not in it:
            rd.fail(f"{where}.epoch", "missing; each expectation says at which epoch it holds")
        ex = Expectation(rd.integer(it["epoch"], f"{where}.epoch", 0, epochs))
        if "case" in it:
            case = it["case"]
            if case != "none" and (isinstance(case, bool) or not isinstance(case, int) or not 1 <= case <= 8):
                rd.fail(f"{where}.case", f'expected a case number 1 to 8 or "none", got {_kind(case)}')
            ex.case = case
        if "dead" in it:
            dead = []  # each as in files and messages (hidden[0]); the screen's h[0] is accepted too
            for i, u in enumerate(rd.array(it["dead"], f"{where}.dead", 20)):
                try:
                    name = net.parse_unit(rd.string(u, f"{where}.dead[{i}]", 50), config).name(config)
                except SpecError:
                    rd.fail(f"{where}.dead[{i}]", f"unknown unit {u!r}; expected one of {', '.join(sorted(units))}")
                if name in dead:
                    rd.fail(f"{where}.dead[{i}]", f"{u!r} is listed twice")
                dead.append(name)
            ex.dead = sorted(dead)
        if "halted" in it:
            ex.halted = rd.boolean(it["halted"], f"{where}.halted")
        if "loss" in it:
            ex.loss = rd.number(it["loss"], f"{where}.loss")
        if "tolerance" in it:
            ex.tolerance = rd.number(it["tolerance"], f"{where}.tolerance", 0.0, 1e6)
        if "printed" in it:
            text = rd.string(it["printed"], f"{where}.printed", 20_000).strip("\n")
            if len(config.hidden) != 1:
                rd.fail(f"{where}.printed", "the student's printout shows a network with one hidden layer")
            if not text.startswith("##########################epoches:"):
                rd.fail(f"{where}.printed", "expected a printed block, starting with its '####...epoches: N' header")
            ex.printed = text
        if len(it) == 1:
            rd.fail(where, "expects nothing; give at least one of case, dead, halted, loss, printed")
        out.append(ex)
    return out


def load(path: str | os.PathLike, files=None) -> Scenario:
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


def _builtin_order(name: str):
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


def to_dict(sc: Scenario) -> dict:
    c = sc.config
    d: dict = {"name": sc.name}
    if sc.description:
        d["description"] = sc.description
    d["epochs"] = sc.epochs
    d["network"] = {"hidden": list(c.hidden), "activations": [a.spec for a in c.activations]}
    tr: dict = {"loss": c.loss, "lr": c.lr}
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
        params = net.from_state_dict(sc.start.values, c)
        sd = net.state_dict(params, c)
        d["start"] = {"params": {k: _f32_lists(v.tolist()) for k, v in sd.items()}}
    if sc.script:
        d["script"] = [a.to_toml() for a in sc.script]
    if sc.expect:
        d["expect"] = [_expect_dict(e) for e in sc.expect]
    return d


def _f32_lists(v):
    if isinstance(v, list):
        return [_f32_lists(x) for x in v]
    return float(v)


def _expect_dict(e: Expectation) -> dict:
    d: dict = {"epoch": e.epoch}
    if e.case is not None:
        d["case"] = e.case
    if e.dead is not None:
        d["dead"] = e.dead
    if e.halted is not None:
        d["halted"] = e.halted
    if e.loss is not None:
        d["loss"] = e.loss
        d["tolerance"] = e.tolerance
    if e.printed is not None:
        d["printed"] = e.printed
    return d


def dumps(sc: Scenario, notes: dict[str, list[str]] | None = None) -> str:
    """The scenario as TOML text. With ``notes`` (comment lines by section: "" for the top of
    the file, "start" for the [start] table, "expect[i]" for the i-th expectation), the text is
    laid out for reading, one section after another with its comments (as ``import`` writes it)."""
    if notes is None:
        return tomli_w.dumps(to_dict(sc))
    return _annotated(to_dict(sc), notes)


def toml_value(v) -> str:
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


def _annotated(d: dict, notes: dict[str, list[str]]) -> str:
    out = _comments(notes.get("", []))

    def table(header: str, body: dict, note: str) -> None:
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
    return "\n".join(out).lstrip("\n") + "\n"


def save(
    sc: Scenario, path: str | os.PathLike, overwrite: bool = False, notes: dict[str, list[str]] | None = None
) -> Path:
    """Write atomically; an existing file is kept unless ``overwrite``. ``notes``: see dumps.

    The text is read back first exactly as ``replay`` would read it: a scenario that
    ``replay`` would refuse (an empty or overlong name, too many script entries...) is
    not written, and ScenarioError says why in one line.
    """
    return write_atomic(path, checked_text(sc, path, notes), overwrite)


def checked_text(
    sc: Scenario, path: str | os.PathLike = "<scenario>", notes: dict[str, list[str]] | None = None
) -> str:
    """``sc`` as the TOML text ``save`` writes (``notes``: see dumps), read back first as
    ``replay`` would: raises ScenarioError (one line) for a scenario that could not be replayed."""
    text = dumps(sc, notes)
    parse(text, str(path))
    return text
