"""Property-based tests of the scenario loader: hostile files never escape as anything
but the loader's own error, and valid scenarios round-trip bit for bit."""

import math
import string

import tomli_w
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import COUNTS
from xor_tui.core.engine import activations, losses
from xor_tui.core.io.scenario import ScenarioError, load, parse, save
from xor_tui.core.studies.replay import replay

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- hostile values

HOSTILE_TEXT = ["\x1b]0;pwned\x07\x1b[2J", "a\nb\r\nc\u202e"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from([1e308, -1e308, 1e-320, float("nan"), float("inf"), -0.0, 2**63, -1]),
    # on purpose, not only by chance: integers beyond any float, escape sequences, newlines
    st.sampled_from([10**400, -(10**400), 2**64, HOSTILE_TEXT[0], HOSTILE_TEXT[1], "x" * 5000]),
)
# nested two deep at most: the loader checks each field's type, so deeper nesting is only more
# of "a table (or list) where a number was expected" (test_deep_nesting_and_huge_files nests
# thousands deep); st.recursive made drawing these 85% of the test's time
_keys = st.text(max_size=12)
_flat = st.one_of(st.lists(scalars, max_size=5), st.dictionaries(_keys, scalars, max_size=5))
values = st.one_of(
    scalars,
    _flat,
    st.lists(st.one_of(scalars, _flat), max_size=4),
    st.dictionaries(_keys, st.one_of(scalars, _flat), max_size=4),
)
KEYS = ["name", "description", "epochs", "network", "training", "start", "script", "expect", "colour", *HOSTILE_TEXT]
SUB = [
    "hidden",
    "activations",
    "loss",
    "lr",
    "layer_lr",
    "weight_decay",
    "decay_bias",
    "seed",
    "zeros",
    "params",
    "state_dict",
    "epoch",
    "set",
    "value",
    "layer",
    "activation",
    "case",
    "dead",
    "halted",
    "tolerance",
    "hidden.weight",
    "output.bias",
    "reseed",
    *HOSTILE_TEXT,
]


def _mutate(base: dict, draw) -> dict:
    doc = {k: v for k, v in base.items()}
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(KEYS))
        if where in ("network", "training", "start") and draw(st.booleans()):
            table = dict(doc.get(where, {})) if isinstance(doc.get(where), dict) else {}
            table[draw(st.sampled_from(SUB))] = draw(values)
            doc[where] = table
        else:
            doc[where] = draw(values)
    return doc


BASE = {
    "name": "fuzz",
    "epochs": 5,
    "network": {"hidden": [2], "activations": ["relu", "relu"]},
    "training": {"loss": "bce", "lr": 0.01},
    "start": {"seed": 1},
}


def _to_toml(doc) -> str | None:
    try:
        return tomli_w.dumps(_clean(doc))
    except (TypeError, ValueError):
        return None


def _clean(v):
    # TOML has no null; drop Nones so the document can be written at all
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_clean(x) for x in v if x is not None]
    return v


def _scratch(tmp_path_factory, name: str):
    """One folder per test for all its examples (each overwrites the last file): a numbered
    folder per example made pytest list every earlier one each time."""
    folder = tmp_path_factory.getbasetemp() / f"fuzz-{name}"
    folder.mkdir(exist_ok=True)
    return folder


def _load_text(tmp_path, data: bytes):
    p = tmp_path / "s.toml"
    p.write_bytes(data)
    try:
        sc = load(p)
    except ScenarioError as exc:
        msg = str(exc)
        assert msg.startswith(str(p))
        # one line, nothing a terminal would act on, bounded whatever the input
        assert msg.isprintable() and len(msg) < 1200, msg[:200]
        return None
    # anything accepted must also run
    replay(sc, min(sc.epochs, 3))
    return sc


@SETTINGS
@given(data=st.data())
def test_mutated_documents_fail_only_with_the_loaders_error(tmp_path_factory, data):
    doc = _mutate(BASE, data.draw)
    text = _to_toml(doc)
    if text is None:
        return
    COUNTS["fuzz: mutated TOML documents"] += 1
    _load_text(_scratch(tmp_path_factory, "m"), text.encode())


@settings(max_examples=400, deadline=None)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_fail_only_with_the_loaders_error(tmp_path_factory, raw):
    COUNTS["fuzz: arbitrary byte files (non-UTF-8 included)"] += 1
    _load_text(_scratch(tmp_path_factory, "b"), raw)


@settings(max_examples=100, deadline=None)
@given(depth=st.integers(1, 3000), big=st.integers(0, 3))
def test_deep_nesting_and_huge_files(tmp_path_factory, depth, big):
    COUNTS["fuzz: deeply nested or huge files"] += 1
    tmp = _scratch(tmp_path_factory, "d")
    text = 'name = "x"\nepochs = ' + "[" * depth + "1" + "]" * depth + "\n"
    if big:
        text += "# " + "x" * (400_000 * big) + "\n"
    _load_text(tmp, text.encode())


# ---------------------------------------------------------------- valid scenarios

acts = st.one_of(
    st.sampled_from(activations.NAMES),
    # parameters that 6 significant digits would change: saved and read back exactly
    st.builds(lambda n, v: f"{n}:{v!r}", st.sampled_from(["leaky_relu", "elu"]), st.floats(0.0, 100.0)),
)
nums = st.floats(min_value=-3, max_value=3, allow_nan=False, width=32)


@st.composite
def scenarios(draw):
    hidden = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
    sizes = [2, *hidden, 1]
    names = ["hidden"] + [f"hidden{i + 2}" for i in range(len(hidden) - 1)] + ["output"]
    acts_list = [draw(acts) for _ in names]
    loss = draw(st.sampled_from(losses.NAMES))
    doc = {
        "name": draw(st.text(string.ascii_letters + " -_é", min_size=1, max_size=20)).strip() or "n",
        "description": draw(st.text(max_size=40)),
        "epochs": draw(st.integers(0, 12)),
        "network": {"hidden": hidden, "activations": acts_list},
        "training": {
            "loss": loss,
            "lr": draw(st.floats(1e-4, 2.0)),
            "weight_decay": draw(st.sampled_from([0.0, 0.01])),
            "decay_bias": draw(st.booleans()),
        },
    }
    kind = draw(st.sampled_from(["seed", "zeros", "params"]))
    if kind == "seed":
        doc["start"] = {"seed": draw(st.integers(0, 2**40))}
    elif kind == "zeros":
        doc["start"] = {"zeros": True}
    else:
        params = {}
        for li, name in enumerate(names):
            params[f"{name}.weight"] = [[draw(nums) for _ in range(sizes[li])] for _ in range(sizes[li + 1])]
            params[f"{name}.bias"] = [draw(nums) for _ in range(sizes[li + 1])]
        doc["start"] = {"params": params}
    script = []
    for _ in range(draw(st.integers(0, 3))):
        epoch = draw(st.integers(0, doc["epochs"]))
        kind = draw(st.sampled_from(["set", "activation", "lr", "loss", "reseed"]))
        if kind == "set":
            layer = draw(st.integers(0, len(names) - 1))
            j = draw(st.integers(0, sizes[layer + 1] - 1))
            script.append({"epoch": epoch, "set": f"{names[layer]}.bias[{j}]", "value": draw(nums)})
        elif kind == "activation":
            script.append({"epoch": epoch, "activation": draw(acts), "layer": draw(st.sampled_from(names))})
        elif kind == "lr":
            script.append({"epoch": epoch, "lr": draw(st.floats(1e-4, 2.0))})
        elif kind == "loss":
            script.append({"epoch": epoch, "loss": draw(st.sampled_from(losses.NAMES))})
        else:
            script.append({"epoch": epoch, "reseed": draw(st.integers(0, 1000))})
    if script:
        doc["script"] = script
    return doc


def _same(a, b):
    assert len(a.trace.records) == len(b.trace.records)
    for r1, r2 in zip(a.trace.records, b.trace.records):
        assert r1.config == r2.config
        for (w1, b1), (w2, b2) in zip(r1.params, r2.params):
            assert torch.equal(w1, w2) and torch.equal(b1, b2)
        assert (
            r1.loss == r2.loss or (r1.loss is None and r2.loss is None) or (math.isnan(r1.loss) and math.isnan(r2.loss))
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=scenarios())
def test_valid_scenarios_round_trip_save_load_replay(tmp_path_factory, doc):
    COUNTS["fuzz: valid scenarios round-tripped"] += 1
    sc = parse(tomli_w.dumps(doc), "<generated>")
    path = _scratch(tmp_path_factory, "v") / "sc.toml"
    path.unlink(missing_ok=True)
    save(sc, path)
    again = load(path)
    assert again.config == sc.config and again.script == sc.script and again.epochs == sc.epochs
    _same(replay(sc), replay(again))
