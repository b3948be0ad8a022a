"""A run's history: step back restores exactly, actions re-diagnose at once, events."""

import math
import re

import pytest
import torch

from xor_tui.core.engine.actions import Reseed, SetActivation, SetLoss, SetLr, SetParam
from xor_tui.core.engine.activations import Activation, SpecError
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Run, RunHalted, Start
from xor_tui.core.io.scenario import builtin
from xor_tui.core.rules.diagnosis import diagnose
from xor_tui.core.studies.replay import Trace


def _same(a, b):
    for (w1, b1), (w2, b2) in zip(a.params, b.params):
        assert torch.equal(w1, w2) and torch.equal(b1, b2)
    assert a.loss == b.loss or (a.loss is None and b.loss is None)


def test_step_back_restores_the_earlier_epoch_exactly():
    run = builtin("case3").new_run()
    seen = [run.current]
    for _ in range(30):
        seen.append(run.step())
    for k in range(30, 0, -1):
        assert run.back()
        assert run.epoch == k - 1
        _same(run.current, seen[k - 1])
    assert not run.back()  # nothing before epoch 0
    # stepping forward again gives the same numbers
    for k in range(1, 10):
        _same(run.step(), seen[k])


def test_an_edit_changes_diagnosis_before_any_step():
    run = builtin("case1").new_run()
    assert diagnose(run.current).case == 1
    # lift the output bias: the output comes alive on all rows -> case 3
    run.act(SetParam(0, "output.bias[0]", 0.7))
    assert run.epoch == 0
    assert diagnose(run.current).case == 3
    assert run.actions() == [SetParam(0, "output.bias[0]", 0.7)]


def test_bad_actions_are_refused_and_change_nothing():
    run = builtin("case3").new_run()
    before = run.current
    # an invalid action cannot even be built
    for make in [
        lambda: SetParam(0, "hidden.bias[0]", float("nan")),
        lambda: SetParam(0, "hidden.bias[0]", "abc"),
        lambda: SetActivation(0, "hidden", "swish"),
        lambda: SetLr(0, -1.0),
        lambda: SetLoss(0, "hinge"),
        lambda: Reseed(0, 2**64),
    ]:
        with pytest.raises(SpecError):
            make()
    # one that does not fit this network is refused when applied
    for action in [SetParam(0, "hidden.weight[9][0]", 1.0), SetActivation(0, "hidden3", "elu"), SetLr(0, 0.1, "x")]:
        with pytest.raises(SpecError):
            run.act(action)
        assert run.current is before


def test_halt_keeps_the_state_and_edits_can_resume():
    run = builtin("case7").new_run()
    while not run.halted:
        run.step()
    assert run.epoch == 98
    with pytest.raises(RunHalted):
        run.step()
    # swapping the output to sigmoid makes BCELoss valid again: training can go on
    run.act(SetActivation(0, "output", "sigmoid"))
    assert not run.halted and run.epoch == 98
    run.step()
    assert run.epoch == 99
    # and step back below the halt works too
    run.goto(97)
    assert run.epoch == 97 and not run.halted


def test_a_diverging_learning_rate_halts_and_step_back_recovers_finite_state():
    ident = Activation("identity")
    config = Config(activations=(ident, ident), lr=10.0, loss="mse")
    run = Run(config, Start("seed", seed=4))
    for _ in range(200):
        if run.halted:
            break
        run.step()
    assert run.halted and run.epoch == 3  # the loss overflows to inf at epoch 3
    assert "not finite" in run.current.halt.reason
    events = Trace.follow(run).events[-1]
    assert [(e.kind, e.text) for e in events] == [
        ("halts", "halted: loss is inf (the loss is not finite; a step would only spread NaN or inf)")
    ]
    run.back()
    assert math.isfinite(run.current.loss) and not run.halted


def test_events_report_deaths_and_freezes():
    run = builtin("case8").new_run()
    trace = Trace.follow(run)
    for _ in range(80):
        run.step()
    trace.sync()
    texts = [e.text for e in trace.all_events()]
    assert any("freezes" in t for t in texts)
    run7 = builtin("case7").new_run()
    while not run7.halted:
        run7.step()
    t7 = Trace.follow(run7)
    kinds = {e.kind for e in t7.all_events()}
    assert {"dies", "halts", "thaws"} <= kinds


def test_trace_follows_back_and_act():
    run = builtin("case3").new_run()
    trace = Trace.follow(run)
    run.step()
    run.step()
    trace.sync()
    assert len(trace.diagnoses) == 3
    run.back()
    run.act(SetParam(0, "output.bias[0]", -5.0))
    trace.sync()
    assert len(trace.diagnoses) == 2
    # output bias -5: the output is inactive on every row, the hidden units stay active: case 1
    assert trace.diagnoses[-1].case == 1 and trace.diagnoses[-1].dead == ["output[0]"]
    assert any(e.kind == "action" for e in trace.events[-1])


def test_zeros_start_and_relu_gradient_at_zero_freezes_everything():
    run = Run(Config(), Start("zeros"))
    d = diagnose(run.current)
    assert run.current.loss == 50.0
    assert d.flowing == set()


# ---------------------------------------------------------------- compact history


def test_a_long_run_keeps_no_record_objects_and_records_are_recomputed_exactly():
    import gc

    from xor_tui.core.engine.run import Record

    run = builtin("case1").new_run()
    run.advance(100_000)  # case 1 is a fixed point: filled in, not stepped
    gc.collect()
    assert sum(type(o) is Record for o in gc.get_objects()) < 300
    assert len(run.records) == 100_001 and run.epoch == 100_000
    first, late = run.records[0], run.records[77_777]
    assert late.epoch == 77_777 and late.loss == first.loss == 50.0
    for (w0, b0), (w1, b1) in zip(first.params, late.params):
        assert torch.equal(w0, w1) and torch.equal(b0, b1)
    assert Trace.follow(run).all_events() == Trace.follow(builtin("case1").new_run()).all_events()


def test_lazy_records_equal_the_ones_seen_while_stepping():
    run = builtin("case3").new_run()
    seen = [run.current]
    for _ in range(300):
        seen.append(run.step())
    for k in (0, 1, 150, 299, 300):
        again = run.records[k]
        if k <= 150:
            assert again is not seen[k]  # made again from the stored parameters
        assert again.loss == seen[k].loss and again.epoch == k
        for (w0, b0), (w1, b1) in zip(again.params, seen[k].params):
            assert torch.equal(w0, w1) and torch.equal(b0, b1)
        for (w0, b0), (w1, b1) in zip(again.grads, seen[k].grads):
            assert torch.equal(w0, w1) and torch.equal(b0, b1)
    assert run.losses(0, 301) == [r.loss for r in seen]
    assert [r.epoch for r in run.records[298:]] == [298, 299, 300]
    assert run.records[-2].epoch == 299


def test_acting_after_a_fixed_point_ends_it_and_back_restores_it():
    run = builtin("case1").new_run()
    run.advance(1000)
    assert run.is_repeat(1000)
    run.act(SetParam(0, "output.bias[0]", 0.7))  # the output comes alive: learning starts
    assert not run.is_repeat(1000) and run.epoch == 1000
    before = run.current.params
    run.step()
    assert not torch.equal(run.current.params[1][1], before[1][1])
    trace = Trace.follow(run)
    assert [e.kind for e in trace.events[1000]][0] == "action"
    run.goto(10)
    assert run.epoch == 10 and run.current.loss == 50.0 and run.actions() == []
    run.advance(20)
    assert run.epoch == 20 and run.is_repeat(20)


def test_iterating_many_records_does_not_rebuild_each_one():
    run = builtin("case3").new_run()
    seen = [run.current] + [run.step() for _ in range(100)]
    run.goto(50)
    run.step()  # epoch 51 is rewritten: records handed out before keep their own numbers
    assert [r.loss for r in run.records] == [r.loss for r in seen[:51]] + [run.current.loss]
    old = seen[40]
    for (w0, b0), (w1, b1) in zip(list(run.records)[40].params, old.params):
        assert torch.equal(w0, w1) and torch.equal(b0, b1)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("1_000", "is not a number (digits 0-9"),  # float() would take it as 1000
        ("९", "is not a number (digits 0-9"),  # and this as 9
        ("1" + "0" * 400, "is too large to be a number"),  # not "inf is not finite": nobody typed inf
        ("1e999999", "is too large to be a number"),
        ("1e-400", "is too small: it rounds to 0"),  # not silently 0
    ],
)
def test_typed_numbers_are_refused_with_what_is_wrong(typed, says):
    from xor_tui.core.engine.actions import check_value
    from xor_tui.core.session import Session

    with pytest.raises(SpecError, match=r"^value: .*" + re.escape(says)):
        check_value(typed, "value")
    s = Session.from_seed(0)
    with pytest.raises(SpecError, match=re.escape(says)):
        s.set_lr(typed)
    assert s.config.lr == 0.001


def test_a_negative_seed_is_out_of_range_not_unreadable():
    from xor_tui.core.engine.actions import check_seed

    with pytest.raises(SpecError, match=r"seed must be from 0 to 2\*\*63-1, got -1"):
        check_seed("-1")


def test_a_saved_session_says_which_edits_make_it_differ_from_where_it_came_from():
    from xor_tui.core.io.scenario import resolve
    from xor_tui.core.session import Session

    s = Session.from_scenario(resolve("case3"))
    assert s.to_scenario().description == resolve("case3").description  # untouched: as it came
    s.run_until(10)
    s.set_param("hidden.weight[0][0]", "0.5")
    s.run_until(20)
    s.set_lr("0.1")
    sc = s.to_scenario()
    assert sc.description.startswith(
        "Edited from case3: set hidden.weight[0][0] = 0.5 at epoch 10; learning rate -> 0.1 at epoch 20. "
        "Before the edits: Case 3:"
    )
