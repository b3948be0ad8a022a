"""Scenario files: loading, saving, round trips and a message for every kind of mistake."""

import os
import stat
from pathlib import Path

import pytest
import torch

from xor_tui.core.engine.actions import SetParam
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.run import Start
from xor_tui.core.io.scenario import Scenario, ScenarioError, builtin, builtin_names, dumps, load, parse, resolve, save
from xor_tui.core.studies.replay import replay

GOOD = """
name = "mine"
epochs = 20
[network]
hidden = [2]
activations = ["relu", "relu"]
[training]
loss = "bce"
lr = 0.01
[start]
seed = 3
"""


def test_builtins_are_all_there():
    names = builtin_names()
    for k in range(1, 9):
        assert f"case{k}" in names
    for extra in ("case4-lr0.1", "case7-elu", "ex4-3", "ex4-7", "ex4-8", "ex4-9"):
        assert extra in names
    assert builtin("case1").config.lr == 0.001 and builtin("case1").epochs == 200


def _records_equal(a, b):
    assert len(a) == len(b)
    for r1, r2 in zip(a, b):
        assert r1.epoch == r2.epoch
        assert (r1.loss == r2.loss) or (r1.loss is None and r2.loss is None)
        for (w1, b1), (w2, b2) in zip(r1.params, r2.params):
            assert torch.equal(w1, w2) and torch.equal(b1, b2)
        for t1, t2 in zip(r1.pre, r2.pre):
            assert torch.equal(t1, t2)


@pytest.mark.parametrize("name", ["case3", "case7", "ex4-3", "ex4-8"])
def test_two_replays_are_bit_identical(name):
    a = replay(builtin(name))
    b = replay(builtin(name))
    _records_equal(a.trace.records, b.trace.records)


@pytest.mark.parametrize("name", ["case4", "case7", "ex4-9", "ex4-8"])
def test_saved_then_loaded_replays_identically(tmp_path, name):
    sc = builtin(name)
    path = save(sc, tmp_path / "s.toml")
    again = load(path)
    assert again.config == sc.config and again.epochs == sc.epochs
    _records_equal(replay(sc, 60).trace.records, replay(again, 60).trace.records)


def test_script_actions_happen_at_their_epoch(tmp_path):
    text = (
        GOOD
        + """
[[script]]
epoch = 5
set = "output.bias[0]"
value = 0.25
[[script]]
epoch = 7
activation = "leaky_relu:0.1"
layer = "hidden"
[[script]]
epoch = 9
lr = 0.5
"""
    )
    sc = parse(text, "t.toml")
    rp = replay(sc)
    recs = rp.trace.records
    assert float(recs[5].params[1][1][0, 0]) == 0.25
    assert recs[6].config.activations[0].name == "relu"
    assert recs[7].config.activations[0].name == "leaky_relu" and recs[7].config.activations[0].param == 0.1
    assert recs[9].config.lr == 0.5 and recs[8].config.lr == 0.01
    # saved back and reloaded: same script, same numbers
    again = load(save(sc, tmp_path / "again.toml"))
    assert again.script == sc.script
    _records_equal(rp.trace.records, replay(again).trace.records)


def test_explicit_float32_values_round_trip_exactly(tmp_path):
    run = builtin("case3").new_run()
    for _ in range(17):
        run.step()
    sd = {
        k: v.tolist()
        for k, v in __import__("xor_tui.core.engine.net", fromlist=["state_dict"])
        .state_dict(run.current.params, run.config)
        .items()
    }
    sc = Scenario("snap", run.config, Start("explicit", values=sd))
    again = load(save(sc, tmp_path / "snap.toml"))
    r1, r2 = sc.new_run().current, again.new_run().current
    for (w1, b1), (w2, b2) in zip(r1.params, r2.params):
        assert torch.equal(w1, w2) and torch.equal(b1, b2)


def test_save_never_overwrites_unless_asked(tmp_path):
    sc = builtin("case1")
    p = tmp_path / "x.toml"
    p.write_text("keep me")
    with pytest.raises(FileExistsError):
        save(sc, p)
    assert p.read_text() == "keep me"
    save(sc, p, overwrite=True)
    assert load(p).name == "case1"
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


def test_save_into_unwritable_folder_is_refused(tmp_path):
    if os.geteuid() == 0:
        d = Path("/sys")  # refuses new files even to root
    else:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    with pytest.raises(OSError, match="not writable"):
        save(builtin("case1"), d / "x.toml")
    with pytest.raises(OSError, match="folder .* does not exist"):
        save(builtin("case1"), tmp_path / "missing" / "x.toml")


BAD = [
    ("not toml", 'name = "x"\nepochs = = 3', "", "not valid TOML"),
    ("missing name", "epochs = 3", "name", "missing"),
    ("unknown key", 'colour = "red"\n' + GOOD, "colour", "unknown key"),
    (
        "unknown activation",
        GOOD.replace('["relu", "relu"]', '["relu", "swish"]'),
        "network.activations[1]",
        "unknown activation 'swish'",
    ),
    (
        "wrong activation count",
        GOOD.replace('["relu", "relu"]', '["relu"]'),
        "network.activations",
        "expected 2 activations",
    ),
    ("negative lr", GOOD.replace("lr = 0.01", "lr = -0.1"), "training.lr", "above 0"),
    ("nan lr", GOOD.replace("lr = 0.01", "lr = nan"), "training.lr", "finite"),
    ("inf value", GOOD + '[[script]]\nepoch = 1\nset = "hidden.bias[0]"\nvalue = inf\n', "script[0].value", "finite"),
    ("lr as text", GOOD.replace("lr = 0.01", 'lr = "fast"'), "training.lr", "expected a number"),
    ("unknown loss", GOOD.replace('loss = "bce"', 'loss = "hinge"'), "training.loss", "unknown loss"),
    ("too many units", GOOD.replace("hidden = [2]", "hidden = [5]"), "network.hidden[0]", "1 to 4"),
    ("too many layers", GOOD.replace("hidden = [2]", "hidden = [2, 2, 2]"), "network.hidden", "at most 2"),
    (
        "wrong shape",
        GOOD.replace(
            "seed = 3",
            '[start.params]\n"hidden.weight" = [[1.0, 2.0]]\n'
            '"hidden.bias" = [0.0, 0.0]\n"output.weight" = [[1.0, 1.0]]\n'
            '"output.bias" = [0.0]',
        ),
        "start.params",
        "expected shape [2, 2]",
    ),
    ("two starts", GOOD.replace("seed = 3", "seed = 3\nzeros = true"), "start", "exactly one"),
    ("negative epochs", GOOD.replace("epochs = 20", "epochs = -1"), "epochs", "from 0"),
    (
        "bad param name",
        GOOD + '[[script]]\nepoch = 1\nset = "hidden.weight[7][0]"\nvalue = 1.0\n',
        "script[0].set",
        "out of range",
    ),
    ("two actions", GOOD + '[[script]]\nepoch = 1\nlr = 0.1\nloss = "mse"\n', "script[0]", "exactly one"),
    ("script past the end", GOOD + "[[script]]\nepoch = 99\nlr = 0.1\n", "script[0].epoch", "from 0 to 20"),
    ("bad case", GOOD + "[[expect]]\nepoch = 0\ncase = 9\n", "expect[0].case", "1 to 8"),
    ("unknown unit", GOOD + '[[expect]]\nepoch = 0\ndead = ["hidden[5]"]\n', "expect[0].dead[0]", "unknown unit"),
    ("empty expectation", GOOD + "[[expect]]\nepoch = 0\n", "expect[0]", "expects nothing"),
    (
        "activation param",
        GOOD.replace('["relu", "relu"]', '["relu:2", "relu"]'),
        "network.activations[0]",
        "takes no parameter",
    ),
    ("bool as number", GOOD.replace("epochs = 20", "epochs = true"), "epochs", "whole number"),
    (
        "weight decay too big",
        GOOD.replace("lr = 0.01", "lr = 0.01\nweight_decay = 50.0"),
        "training.weight_decay",
        "from 0 to 10",
    ),
]


@pytest.mark.parametrize("label,text,where,fragment", BAD, ids=[b[0] for b in BAD])
def test_malformed_files_get_their_own_message(tmp_path, label, text, where, fragment):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load(p)
    msg = str(info.value)
    assert msg.startswith(str(p))
    assert info.value.where == where
    assert fragment in msg


def test_file_level_problems(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load(tmp_path / "absent.toml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load(tmp_path)
    p = tmp_path / "latin1.toml"
    p.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load(p)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 1_100_000)
    with pytest.raises(ScenarioError, match="at most"):
        load(big)
    with pytest.raises(ScenarioError, match="neither a built-in"):
        resolve("case99")


def test_dumps_is_readable_toml():
    text = dumps(builtin("case6"))
    assert 'name = "case6"' in text and "[network]" in text and "[start.params]" in text
    assert parse(text).config == builtin("case6").config


def test_action_objects_survive_a_round_trip():
    sc = builtin("ex4-8")
    assert sc.script == [SetParam(0, "output.bias[0]", 1.0)]
    assert parse(dumps(sc)).script == sc.script


def test_every_action_kind_round_trips_through_toml():
    from xor_tui.core.engine.actions import Reseed, SetActivation, SetLoss, SetLr, SetParam, Zeros

    sc = builtin("case1")
    sc.epochs = 10
    sc.expect = []
    sc.script = [
        SetParam(1, "output.bias[0]", 0.7),
        SetActivation(2, "hidden", "leaky_relu:0.0123456789"),
        SetLr(3, 0.05),
        SetLr(3, 0.5, "output"),
        SetLoss(4, "mse"),
        Reseed(5, 7),
        Zeros(6),
    ]
    back = parse(dumps(sc))
    assert back.script == sc.script
    assert [a.describe() for a in back.script][1] == "hidden activation -> leaky_relu:0.0123456789"


def test_activation_parameters_are_written_and_read_exactly():
    sc = builtin("case1")
    sc.config = sc.config.with_activation(0, parse_activation("leaky_relu:0.0123456789"))
    assert 'leaky_relu:0.0123456789"' in dumps(sc)
    back = parse(dumps(sc))
    assert back.config.activations[0].param == 0.0123456789
    a, b = replay(sc, 50), replay(back, 50)
    assert torch.equal(a.final.params[0][0], b.final.params[0][0])


def test_files_of_this_tools_other_kinds_are_named_with_what_to_do(tmp_path):
    """A run's CSV export or the student's printout log given as a scenario: one line saying
    what the file is and which command reads it, not a TOML parser's complaint."""
    from xor_tui.cli.main import main
    from xor_tui.core.io.scenario import ScenarioError, load

    csv = tmp_path / "run.csv"
    assert main(["replay", "case3", "--epochs", "2", "--csv", str(csv)]) == 0
    with pytest.raises(ScenarioError, match=r"a run's CSV table \(as --csv writes it\), not a scenario"):
        load(csv)
    log = tmp_path / "log.txt"
    log.write_text((Path(__file__).parent / "seed" / "printouts.txt").read_text())
    with pytest.raises(ScenarioError, match=r"a printout log of the student's loop, not a scenario: `xor-tui import"):
        load(log)
    toml = tmp_path / "bad.toml"
    toml.write_text("name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load(toml)
