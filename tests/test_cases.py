"""The eight cases: epoch-0 facts, diagnosis, and what 200 epochs do, as the source says."""

import pytest
import torch

from tests import digest
from xor_tui.core.engine import net
from xor_tui.core.engine.actions import SetActivation
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Run, Start
from xor_tui.core.io.scenario import builtin
from xor_tui.core.rules.diagnosis import diagnose
from xor_tui.core.studies.replay import replay

CASES = range(1, 9)


@pytest.mark.parametrize("case", CASES)
def test_epoch0_pre_activations_equal_the_digest(case):
    # The digest prints 4 decimals of values computed from unrounded weights; ours come
    # from the 4-decimal weights. Compared as printed (4 decimals), they are within 1e-4.
    rec = builtin(f"case{case}").new_run().current
    printed = lambda t: torch.round(t.double() * 1e4) / 1e4
    hidden = torch.tensor(digest.HIDDEN_PRE0[case], dtype=torch.float64)
    assert (printed(rec.pre[0]) - hidden).abs().max() <= 1e-4 + 1e-12
    out = torch.tensor(digest.OUTPUT_PRE0[case], dtype=torch.float64)
    assert (printed(rec.pre[1][:, 0]) - out).abs().max() <= 1e-4 + 1e-12
    assert rec.loss == pytest.approx(digest.LOSS0[case], abs=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_epoch0_facts_and_case_number(case):
    rec = builtin(f"case{case}").new_run().current
    d = diagnose(rec)
    (h0, h1), o, flow = digest.FACTS0[case]
    assert [sum(d.active[0][0]), sum(d.active[0][1])] == [h0, h1]
    assert sum(d.active[1][0]) == o
    assert d.flowing == flow
    assert d.case == case


def test_each_builtin_case_gets_its_own_number():
    cases = [diagnose(builtin(f"case{k}").new_run().current).case for k in CASES]
    assert cases == list(CASES)


def _trained(case):
    rp = replay(builtin(f"case{case}"))
    return rp, rp.trace.records[0], rp.final


def _changed(a, b, name):
    ref = net.parse_param(name, a.config)
    return a.value(ref) != b.value(ref)


ALL = sorted(digest.ALL)


@pytest.mark.parametrize("case", [1, 2, 5])
def test_dead_output_cases_never_update(case):
    rp, first, last = _trained(case)
    assert last.epoch == 200 and not last.halted
    assert not any(_changed(first, last, n) for n in ALL)
    assert all(r.loss == 50.0 for r in rp.trace.records)
    assert all(d.case == case for d in rp.trace.diagnoses)


@pytest.mark.parametrize("case", [3, 4])
def test_live_cases_update_everything_and_the_loss_falls(case):
    rp, first, last = _trained(case)
    assert all(_changed(first, last, n) for n in ALL)
    losses = [r.loss for r in rp.trace.records]
    assert all(b < a for a, b in zip(losses, losses[1:]))  # falls at every epoch
    assert losses[-1] < losses[0] - 0.05 and losses[-1] > 0.6  # but slowly: XOR not solved
    assert not last.halted


def test_case6_only_the_output_bias_moves():
    rp, first, last = _trained(6)
    moved = [n for n in ALL if _changed(first, last, n)]
    assert moved == ["output.bias[0]"]
    assert all(d.case == 6 for d in rp.trace.diagnoses)


def test_case7_halts_with_torchs_message_and_keeps_that_state():
    rp, first, last = _trained(7)
    assert last.halted and last.epoch == 98
    with pytest.raises(RuntimeError) as info:
        torch.nn.BCELoss()(last.out[-1], net.TARGET)
    assert last.halt.message == str(info.value) == "all elements of input should be between 0 and 1"
    assert last.loss is None and last.grads is None
    assert (last.out[-1] > 1).any()
    assert "unbounded above" in last.halt.reason
    # the kept state is the one after 98 updates: one more step from epoch 97 gives it
    prev = rp.trace.records[97]
    again = net.sgd_step(prev.params, prev.grads, prev.config)
    for (w, b), (w2, b2) in zip(again, last.params):
        assert torch.equal(w, w2) and torch.equal(b, b2)
    # the source's last logged state had output pre-activations 2.8760 2.8850 2.8760 2.9508, as
    # ours (the recovered float32 start), after one huge step from y ~ 1e-4 on a row
    assert float(last.pre[-1].min()) > 2.5 and float(prev.pre[-1].max()) < 1
    # the source says all parameters update; all but one do: hidden[1] is active only on
    # rows whose x2 is 0, so hidden.weight[1][1] never receives gradient
    moved = {n for n in ALL if _changed(first, last, n)}
    assert moved == set(ALL) - {"hidden.weight[1][1]"}
    kinds = [e.kind for e in rp.trace.events[98]]
    assert "halts" in kinds


def test_case8_hidden_weights_frozen_biases_move_loss_near_50():
    rp, first, last = _trained(8)
    # from epoch 72 the hidden bias freezes too: no case matches, and the nearest is 8
    end = rp.trace.diagnoses[-1]
    assert end.case is None and end.nearest == 8 and "hidden bias" in end.difference
    hidden_w = [n for n in ALL if n.startswith("hidden.weight")]
    assert not any(_changed(first, last, n) for n in hidden_w)
    assert _changed(first, last, "hidden.bias[1]")
    assert _changed(first, last, "output.bias[0]") and not _changed(first, last, "output.weight[0][0]")
    assert all(abs(r.loss - 50) < 0.1 for r in rp.trace.records)


def test_case4_with_the_printed_learning_rate_crashes_at_epoch_30():
    rp = replay(builtin("case4-lr0.1"))
    assert rp.final.halted and rp.final.epoch == 30
    assert not rp.failed


def test_every_builtin_meets_its_own_expectations():
    from xor_tui.core.io.scenario import builtin_names

    for name in builtin_names():
        rp = replay(builtin(name))
        assert not rp.failed, (name, [v.failures for v in rp.failed])


def test_source_inexactness_is_explained():
    d5 = diagnose(builtin("case5").new_run().current)
    assert any("0.0203" in n and "negative" in n for n in d5.notes)
    d7 = diagnose(builtin("case7").new_run().current)
    assert any("all parameters update" in n and "5 of 9" in n for n in d7.notes)
    assert d5.notes[0] in d5.explanation


def test_a_state_matching_no_case_names_the_nearest_and_the_difference():
    # case 4's start with hidden unit 1 killed: output still live everywhere, but
    # hidden[1]'s weights are frozen, so "every parameter updates" fails.
    sd = digest.state_dict(4)
    sd["hidden.bias"] = [0.5341, -5.0]
    d = diagnose(Run(Config(), Start("explicit", values=sd)).current)
    assert d.case is None and d.nearest == 4
    assert "every parameter receives gradient" in d.difference
    assert "hidden[1]" in d.dead
    assert any("nearest is case 4" in line for line in d.explanation)


def test_cases_are_not_defined_for_other_networks():
    sc = builtin("case3")
    run = sc.new_run()
    run.act(SetActivation(0, "hidden", "leaky_relu"))
    d = diagnose(run.current)
    assert d.case is None and d.nearest is None and "ReLU" in d.difference


def test_explanation_names_the_dead_output():
    d = diagnose(builtin("case1").new_run().current)
    assert any("inactive on all four rows" in line for line in d.explanation)
    assert d.dead == ["output[0]"]


def test_case_8s_frozen_hidden_bias_is_noted_against_the_source():
    """The source says case 8's hidden biases update; in its own start hidden.bias[0] gets no
    gradient: said, as cases 5 and 7's differences are."""
    from xor_tui.core.session import Session

    text = "\n".join(Session.from_scenario(builtin("case8")).frame().explanation)
    assert "The source says the hidden biases update; at epoch 0 hidden.bias[0] receives no gradient." in text


def test_bce_logits_says_the_output_activation_is_not_used():
    """With BCEWithLogitsLoss the output activation does nothing (the loss takes z): a user who
    picks Tanh there sees the same losses as with sigmoid and needs to be told why."""
    from xor_tui.core.io.scenario import resolve
    from xor_tui.core.session import Session

    s = Session.from_scenario(resolve("case1"))
    s.set_activation("output", "tanh")
    s.set_loss("bce-logits")
    note = "BCEWithLogitsLoss takes the output's pre-activation z: the output activation (Tanh) is not used"
    assert any(line.startswith(note) for line in s.frame().explanation)
    s.set_activation("output", "identity")
    assert not any("is not used" in line for line in s.frame().explanation)


def test_a_loss_that_is_not_finite_names_no_row():
    """MSELoss over all four rows overflowing: the halt line read 'on row(s) -: ...'."""
    from xor_tui.core.io.scenario import parse
    from xor_tui.core.session import Session

    sc = parse(
        """
        name = "inf-loss"
        [network]
        hidden = [2]
        activations = ["relu", "identity"]
        [training]
        loss = "mse"
        [start.params]
        "hidden.weight" = [[0.0, 0.0], [0.0, 0.0]]
        "hidden.bias" = [0.0, 0.0]
        "output.weight" = [[0.0, 0.0]]
        "output.bias" = [3e38]
        """
    )
    first = Session.from_scenario(sc).frame().explanation[0]
    assert first == (
        "Epoch 0: training halted ('loss is inf'): the loss is not finite; a step would only spread NaN or inf."
    )
