"""The exercise scenarios show what the source says about exercises 4-3, 4-7, 4-8, 4-9."""

import dataclasses

import torch

from xor_tui.core.engine import net
from xor_tui.core.io.scenario import builtin
from xor_tui.core.rules.diagnosis import diagnose
from xor_tui.core.studies.replay import replay


def test_ex4_3_a_dead_unit_freezes_its_weights_and_earlier_layers_learn_through_the_other():
    sc = builtin("ex4-3")
    rp = replay(sc)
    first, last = rp.trace.records[0], rp.final
    assert diagnose(first).dead == ["hidden2[0]"]
    # w5, w6 (into h3 = hidden2[0]) and its bias never move
    for name in ("hidden2.weight[0][0]", "hidden2.weight[0][1]", "hidden2.bias[0]"):
        ref = net.parse_param(name, sc.config)
        assert first.value(ref) == last.value(ref)
    # w1 (into h1) does move...
    w1 = net.parse_param("hidden.weight[0][0]", sc.config)
    assert first.value(w1) != last.value(w1)
    # ...and only through h4: the gradient is the same with h3's outgoing weight removed
    params = [(w.clone(), b.clone()) for w, b in first.params]
    params[2][0][0, 0, 0] = 0.0  # output.weight[0][0]: h3 -> output
    g = net.evaluate(params, sc.config).grads
    assert torch.equal(g[0][0], first.grads[0][0])


def test_ex4_7_decaying_biases_makes_them_underfit():
    sc = builtin("ex4-7")
    assert sc.config.decay_bias and sc.config.weight_decay > 0
    with_bias_decay = replay(sc).final
    plain = replay(dataclasses.replace(sc, config=dataclasses.replace(sc.config, decay_bias=False))).final
    assert plain.loss < with_bias_decay.loss - 0.02
    bias_size = lambda rec: float(rec.params[0][1].abs().sum())
    assert bias_size(with_bias_decay) < bias_size(plain)


def test_ex4_8_zero_start_keeps_hidden_units_identical_forever():
    rp = replay(builtin("ex4-8"))
    moved = False
    for rec in rp.trace.records:
        w, b = rec.params[0]
        assert torch.equal(w[0, 0], w[0, 1]) and torch.equal(b[0, 0], b[0, 1])
        moved = moved or bool(w.abs().sum() > 0)
    assert moved  # updates happen, they are just identical for both units
    preds = rp.final.predictions()
    assert not (preds[1] > 0.5 and preds[2] > 0.5 and preds[0] < 0.5 and preds[3] < 0.5)


def test_ex4_9_vanishing_gradients_and_early_layer_rates():
    sc = builtin("ex4-9")
    rp = replay(sc)
    g = rp.trace.records[0].grads
    first, out = float(g[0][0].abs().mean()), float(g[-1][0].abs().mean())
    assert first * 50 < out  # the first layer's gradient is far smaller
    early = rp.final.loss
    uniform = replay(dataclasses.replace(sc, config=dataclasses.replace(sc.config, layer_lr=None))).final.loss
    assert early < 0.05 < 0.6 < uniform
    all_high = replay(dataclasses.replace(sc, config=dataclasses.replace(sc.config, lr=8.0, layer_lr=None)))
    losses = [r.loss for r in all_high.trace.records]
    rises = sum(b > a for a, b in zip(losses, losses[1:]))
    assert rises > 20  # overshoots: the loss goes up again and again
    early_losses = [r.loss for r in rp.trace.records]
    assert sum(b > a for a, b in zip(early_losses, early_losses[1:])) < rises
