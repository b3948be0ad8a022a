"""The explanations ("why, not only what"): their numbers against torch's own autograd and
optimizer, bit for bit; zero factors named exactly when a row term is zero; the issue's two
examples as exact text; the case rules and "dead" at their boundaries; the command line."""

import json
import math

import pytest
import torch
import torch.nn as nn

import xor_tui  # noqa: F401  (MKL_CBWR before torch's first matmul)
from xor_tui.cli.main import main
from xor_tui.core.engine import net
from xor_tui.core.engine.activations import NAMES, SpecError, parse_activation
from xor_tui.core.engine.net import Config, UnitRef
from xor_tui.core.engine.run import Run, Start, measure
from xor_tui.core.io.scenario import resolve
from xor_tui.core.rules import diagnosis, explain
from xor_tui.core.rules.diagnosis import CASE_RULES, COUNTS

# ---------------------------------------------------------------- torch's own numbers


def _torch_act(act):
    if act.name == "relu":
        return nn.ReLU()
    if act.name == "leaky_relu":
        return nn.LeakyReLU(act.param)
    if act.name == "elu":
        return nn.ELU(act.param)
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity, "gelu": nn.GELU, "softplus": nn.Softplus}[
        act.name
    ]()


TORCH_LOSS = {"bce": nn.BCELoss, "mse": nn.MSELoss, "bce-logits": nn.BCEWithLogitsLoss}


def torch_step(params, config):
    """nn.Linear modules, autograd (every pre-activation and output keeps its grad) and one
    optim.SGD step with the config's rates and weight decay as param groups."""
    mods = []
    for w, b in params:
        m = nn.Linear(w.shape[2], w.shape[1])
        with torch.no_grad():
            m.weight.copy_(w[0])
            m.bias.copy_(b[0])
        mods.append(m)
    a = net.X
    pres, outs = [], []
    for m, act in zip(mods, config.activations):
        z = m(a)
        z.retain_grad()
        a = _torch_act(act)(z)
        if a is z:  # nn.Identity hands back z itself
            a = z.view_as(z)
        a.retain_grad()
        pres.append(z)
        outs.append(a)
    loss = TORCH_LOSS[config.loss]()(pres[-1] if config.loss == "bce-logits" else outs[-1], net.TARGET)
    loss.backward()
    grads = [(m.weight.grad.clone(), m.bias.grad.clone()) for m in mods]
    groups = []
    for li, m in enumerate(mods):
        lr = config.lr_of(li)
        groups.append({"params": [m.weight], "lr": lr, "weight_decay": config.weight_decay})
        groups.append({"params": [m.bias], "lr": lr, "weight_decay": config.weight_decay if config.decay_bias else 0})
    torch.optim.SGD(groups, lr=config.lr).step()
    new = [(m.weight.detach(), m.bias.detach()) for m in mods]
    return pres, outs, grads, new


def same(a: float, b) -> bool:
    """Bit for bit (as float32 values): equal, or both NaN."""
    b = float(b)
    return a == b or (math.isnan(a) and math.isnan(b))


def _acts(*specs):
    return tuple(parse_activation(s) for s in specs)


def settings():
    """Every activation in a hidden layer, every loss, one and two hidden layers of several
    widths, per-layer rates, weight decay with and without the biases."""
    out = []
    shapes = [(2,), (3,), (2, 2), (4, 2)]
    for i, act in enumerate(NAMES):
        shape = shapes[i % len(shapes)]
        hid = [act] * len(shape)
        out.append(Config(shape, _acts(*hid, "sigmoid"), "bce", 0.1))
        out.append(Config(shape, _acts(*hid, act), "mse", 0.05))
        out.append(Config(shape, _acts(*hid, act), "bce-logits", 0.5))
    out += [
        Config((2,), _acts("relu", "relu"), "bce", 0.001),  # the source's
        Config((2, 2), _acts("relu", "relu", "relu"), "bce", 0.01),
        Config((2,), _acts("leaky_relu:0", "relu"), "mse", 0.1),  # a slope of 0 below 0
        Config((2,), _acts("elu:0.5", "tanh"), "mse", 0.1),
        Config((3,), _acts("relu", "sigmoid"), "bce", 0.1, layer_lr=(8.0, 0.25)),
        Config((4, 2), _acts("sigmoid", "sigmoid", "sigmoid"), "bce", 0.1, layer_lr=(8.0, 2.0, 0.25)),
        Config((2,), _acts("tanh", "sigmoid"), "bce", 0.5, weight_decay=0.01, decay_bias=True),
        Config((2, 2), _acts("relu", "relu", "identity"), "mse", 0.05, weight_decay=0.1),
    ]
    return out


def states(config, n=14):
    """Random states: nn.Linear's default distribution at several scales (a few seeds each)."""
    out = []
    for seed in range(n):
        g = torch.Generator().manual_seed(1000 * seed + 7)
        scale = (0.5, 1.0, 3.0)[seed % 3]
        out.append([(w * scale, b * scale) for w, b in net.init_batch(g, 1, config.sizes)])
    return out


def _id(c):
    extra = f"-lr{c.lr_text}" if c.layer_lr else ""
    extra += f"-wd{c.weight_decay:g}{'b' if c.decay_bias else ''}" if c.weight_decay else ""
    return f"{c.shape_text}-{'/'.join(a.spec for a in c.activations)}-{c.loss}{extra}"


@pytest.mark.parametrize("config", settings(), ids=_id)
def test_every_number_equals_torch_autograd_and_sgd_bit_for_bit(config):
    checked = zeros_named = 0
    for params in states(config):
        rec = measure(0, config, params)
        if rec.halted:  # BCELoss refuses it: nothing to compare (the halt has its own tests)
            continue
        pres, outs, tgrads, tnew = torch_step(params, config)
        last = len(config.sizes) - 2
        for ref in net.all_params(config):
            e = explain.explain_param(rec, ref.name(config))
            layer, unit = ref.layer, ref.unit
            tg = tgrads[layer][0][unit, ref.source] if ref.kind == "weight" else tgrads[layer][1][unit]
            tn = tnew[layer][0][unit, ref.source] if ref.kind == "weight" else tnew[layer][1][unit]
            assert same(e.gradient, tg), (ref.name(config), e.gradient, float(tg))
            assert same(e.total, tg), "the row terms summed in the engine's order are the gradient"
            assert same(e.update.new_value, tn), "the update is optim.SGD's"
            assert e.update.change == float(tn) - float(rec.value(ref))
            for r in e.rows:
                # each intermediate of the backward pass is torch's per-row grad of that tensor
                for part in r.partials:
                    if part.name == "∂L/∂ŷ":
                        want = outs[last].grad[r.row, 0]
                    elif part.name.startswith("∂L/∂z of "):
                        u = net.parse_unit(part.name.removeprefix("∂L/∂z of "), config)
                        want = pres[u.layer].grad[r.row, u.unit]
                    else:
                        u = net.parse_unit(part.name.removeprefix("∂L/∂"), config)
                        want = outs[u.layer].grad[r.row, u.unit]
                    assert same(part.value, want), (ref.name(config), r.row_text, part.name)
                delta = pres[layer].grad[r.row, unit]
                x = net.X[r.row, ref.source] if layer == 0 else outs[layer - 1][r.row, ref.source].detach()
                assert same(r.term, delta * x if ref.kind == "weight" else delta)
                # a zero factor is named exactly when its value is 0, and then the term is 0
                for f in r.factors:
                    assert f.zero == (f.value == 0)
                    assert (f.why is not None) == f.zero
                named = [f for f in r.factors if f.zero]
                assert r.zero == (r.term == 0)
                if named:
                    assert r.term == 0, "a zero factor is never named for a nonzero term"
                    assert all(f.why in r.why for f in named)
                    zeros_named += 1
                if r.zero:
                    assert r.why
            if e.gradient == 0:
                assert e.zero and e.why
            checked += 1
    assert checked >= 5 * len(net.all_params(config)), "too few valid states to prove anything"
    assert zeros_named > 0, "no zero factor in any state: the rule was not exercised"


def test_a_zero_gradient_without_a_zero_factor_says_why():
    """Terms that cancel, and a product that underflows float32: zero, and no factor is 0."""
    config = Config((2,), _acts("sigmoid", "sigmoid"), "bce", 0.5)
    rec = measure(0, config, net.zeros(config.sizes))  # every ŷ = 0.5: ±0.125 on the rows
    e = explain.explain_param(rec, "output.bias[0]")
    assert e.gradient == 0 and [r.term for r in e.rows] == [0.125, -0.125, -0.125, 0.125]
    assert not any(r.zero for r in e.rows) and e.why == "the row terms cancel: their sum is exactly 0"
    config = Config((2,), _acts("sigmoid", "identity"), "mse", 0.5)
    params = _net([[0.0, 0.0], [0.0, 0.0]], [-80.0, 0.0], [[1e-20, 0.5]], [0.0])
    e = explain.explain_param(measure(0, config, params), "hidden.bias[0]")
    assert e.gradient == 0 and all(f.value != 0 for r in e.rows for f in r.factors)
    assert all(r.why == "the product underflows float32 (below 1.4e-45) though no factor is 0" for r in e.rows)


# A 4-unit layer feeding a 4-unit layer (2-4-4-1, exercise 4-9): nn.Linear's addmm of a 4x4 weight
# sums the four products pairwise, (a0·w0 + a2·w2) + (a1·w1 + a3·w3), and so does the engine there.
WIDE = Config((4, 4), _acts("sigmoid", "sigmoid", "sigmoid"), "bce", 0.1, layer_lr=(8.0, 2.0, 0.25))


def test_a_2_4_4_1_net_is_explained_with_the_engines_own_numbers():
    config = WIDE
    for params in states(config, 6):
        rec = measure(0, config, params)
        p = net.evaluate(params, config, chain=True)
        new = net.sgd_step(params, p.grads, config)
        _, _, tgrads, _ = torch_step(params, config)
        for ref in net.all_params(config):
            e = explain.explain_param(rec, ref.name(config))
            assert same(e.gradient, net.get_value(p.grads, ref)) and same(e.total, e.gradient)
            assert same(e.update.new_value, net.get_value(new, ref))
            tg = tgrads[ref.layer][0][ref.unit, ref.source] if ref.kind == "weight" else tgrads[ref.layer][1][ref.unit]
            assert same(e.gradient, tg)  # torch's own, bit for bit
            for r in e.rows:
                for part in r.partials:
                    if part.name == "∂L/∂ŷ":
                        assert same(part.value, p.upstream[-1][0, r.row, 0])
                    elif part.name.startswith("∂L/∂z of "):
                        u = net.parse_unit(part.name.removeprefix("∂L/∂z of "), config)
                        assert same(part.value, p.delta[u.layer][0, r.row, u.unit])
                    else:
                        u = net.parse_unit(part.name.removeprefix("∂L/∂"), config)
                        assert same(part.value, p.upstream[u.layer][0, r.row, u.unit])


def test_the_engines_4x4_layer_is_torchs_bit_for_bit():
    differ = 0
    for params in states(WIDE, 6):
        pres, _, _, _ = torch_step(params, WIDE)
        differ += not torch.equal(net.evaluate(params, WIDE).pre[1][0], pres[1].detach())
    assert differ == 0


# ---------------------------------------------------------------- the examples, exact


CASE7_97 = """\
case7: output.bias[0] at epoch 97 (2-2-1 ReLU/ReLU, bce, lr 0.001)
value 0.238496, gradient -2637.48 (8 of 9 parameters receive gradient)
the chain rule, row by row: ∂L/∂output.bias[0] = Σ over the 4 rows of ∂L/∂ŷ × ReLU'(z_out) × 1 (a bias)
  row (0,0), t = 0, ŷ = 0.0350818: ∂L/∂ŷ = 1/(4(1 - ŷ)) = 0.259089 × ReLU'(z_out = 0.03508) = 1 -> 0.259089
  row (0,1), t = 1, ŷ = 0.247545: ∂L/∂ŷ = -1/(4ŷ) = -1.00992 × ReLU'(z_out = 0.2475) = 1 -> -1.00992
  row (1,0), t = 1, ŷ = 9.48012e-05: ∂L/∂ŷ = -1/(4ŷ) = -2637.1 × ReLU'(z_out = 9.48e-05) = 1 -> -2637.1
  row (1,1), t = 0, ŷ = 0.313354: ∂L/∂ŷ = 1/(4(1 - ŷ)) = 0.364089 × ReLU'(z_out = 0.3134) = 1 -> 0.364089
sum of the row terms, in the engine's order ((a + b) + c) + d: 0.259089 + (-1.00992) + (-2637.1) + 0.364089 = -2637.48
SGD step (lr 0.001): new = value - lr × gradient = 0.238496 - 0.001 × (-2637.48) = 2.87598 (one fused multiply-add, \
rounded once)
the step moves output.bias[0] by +2.6375
"""

CASE1_LOSS = """\
case1: the loss at epoch 0 (2-2-1 ReLU/ReLU, bce, lr 0.001): BCELoss, the mean of the four row terms
each row: -(t·max(log ŷ, -100) + (1 - t)·max(log(1 - ŷ), -100))
  row (0,0), target 0: ŷ = 0: -max(log(1 - ŷ), -100) = -max(0, -100) = 0
  row (0,1), target 1: ŷ = 0: -max(log ŷ, -100) = -max(-inf, -100) = 100 (the log is clamped at -100)
  row (1,0), target 1: ŷ = 0: -max(log ŷ, -100) = -max(-inf, -100) = 100 (the log is clamped at -100)
  row (1,1), target 0: ŷ = 0: -max(log(1 - ŷ), -100) = -max(0, -100) = 0
BCELoss clamps each log at -100, so a row with ŷ exactly on the wrong side costs 100
mean, summed in the engine's order: (0 + 100 + 100 + 0) / 4 = 50
"""


def test_case7_at_97_output_bias_is_explained_exactly(capsys):
    assert main(["explain", "case7", "--epoch", "97", "--param", "output.bias[0]"]) == 0
    assert capsys.readouterr().out == CASE7_97


def test_case1_loss_shows_the_clamp_and_the_50(capsys):
    assert main(["explain", "case1", "--loss"]) == 0
    assert capsys.readouterr().out == CASE1_LOSS


def _run(name: str, epoch: int):
    run = resolve(name).new_run()
    run.advance(epoch)
    return run


def test_case7s_halt_tells_the_story_in_numbers():
    run = _run("case7", 200)
    rec = run.current
    assert rec.epoch == 98 and rec.halted
    e = explain.explain_halt(rec, run.records[97])
    assert [r.why for r in e.refused] == ["above 1"] * 4
    assert e.previous == 97 and e.driver == 2  # row (1,0)
    g = e.row_gradients[2]
    assert g.target == 1 and g.prediction == pytest.approx(9.48e-5, rel=1e-3)
    assert g.text.startswith("∂L/∂ŷ = -1/(4ŷ) = ")
    r97 = run.records[97]
    assert g.value == float(net.evaluate(r97.params, r97.config, chain=True).upstream[-1][0, 2, 0])
    assert g.value == pytest.approx(-1 / (4 * g.prediction), rel=1e-6)
    top = e.steps[0]
    assert top.param == "output.bias[0]" and explain.num(top.grad) == "-2637.48"
    assert explain.signed(top.change) == "+2.6375"
    assert top.new_value == run.records[98].value(net.parse_param("output.bias[0]", rec.config))
    assert e.summary == (
        "at epoch 97 ŷ on row (1,0) is 9.48012e-05 (target 1); the step of epoch 97 takes it to 2.87598 at epoch 98: "
        "every ŷ is above 1, which BCELoss refuses. Of that step, output.bias[0]'s change (+2.6375) alone moves z "
        "on row (1,0) the most (+2.6375); its gradient -2637.48 comes mostly from row (1,0), where the loss's "
        "gradient is -1/(4ŷ) = -2637.1"
    )
    assert all(z > 1 for z in e.z_after) and all(z < 1 for z in e.z_before)


def test_the_halts_short_story_follows_the_row_that_left_0_1_not_the_largest_gradient():
    """case4-lr0.1 halts at epoch 30 on row (1,0) alone. At epoch 29 the largest |∂L/∂ŷ| is row
    (0,1)'s, and the largest step is hidden.weight[1][0]'s, which row (0,1) cannot move (x1 = 0
    there): the story names row (1,0), the step's effect on it, and the rows behind that gradient."""
    run = _run("case4-lr0.1", 200)
    rec = run.current
    assert rec.epoch == 30 and rec.halted
    e = explain.explain_halt(rec, run.records[29])
    assert [r.row_text for r in e.refused] == ["(1,0)"] and e.driver == 1  # (0,1): the largest |∂L/∂ŷ|
    assert e.summary.startswith(
        "at epoch 29 ŷ on row (1,0) is 0.963767 (target 1); the step of epoch 29 takes it to 1.02448"
    )
    # each parameter stepped alone, through the engine: hidden.weight[1][0] moves row (1,0)'s z the most
    r29 = run.records[29]
    moved = {}
    for st in e.steps:
        ref = net.parse_param(st.param, r29.config)
        z = net.evaluate(net.with_value(r29.params, ref, st.new_value), r29.config, grads=False).pre[-1][0][2, 0]
        moved[st.param] = float(z) - float(r29.pre[-1][2, 0])
    best = max(moved, key=moved.get)
    assert best == "hidden.weight[1][0]" and moved[best] > moved["output.weight[0][1]"] > 0
    by = explain.signed(moved[best])
    said = f"hidden.weight[1][0]'s change (+0.026449) alone moves z on row (1,0) the most ({by})"
    assert said in e.summary
    assert e.summary.endswith("comes mostly from row (1,0), where the loss's gradient is -1/(4ŷ) = -0.259399")
    assert "(0,1)" not in e.summary


def test_a_halt_at_the_start_and_a_loss_that_is_not_finite():
    # case7-elu: BCELoss refuses ELU's negative outputs at once; nothing led there
    run = _run("case7-elu", 5)
    e = explain.explain_halt(run.current)
    assert e.epoch == 0 and e.previous is None and "very start" in e.note
    assert {r.why for r in e.refused} == {"below 0"}
    # MSE on an identity output of 1e20: the loss is inf; a step from a finite state led there
    config = Config((2,), _acts("relu", "identity"), "mse", 1e6)
    params = [(torch.zeros(1, 2, 2), torch.zeros(1, 2)), (torch.zeros(1, 1, 2), torch.full((1, 1), 1e18))]
    before = measure(0, config, params)
    rec = measure(1, config, net.sgd_step(params, before.grads, config))
    assert before.loss == pytest.approx(1e36, rel=1e-6) and rec.loss == math.inf
    e = explain.explain_halt(rec, before)
    assert ("loss", math.inf) in e.nonfinite and e.refused == ()
    assert e.steps[0].param == "output.bias[0]" and e.steps[0].new_value == pytest.approx(-1.999999e24, rel=1e-5)
    assert e.summary.endswith("at epoch 1 the loss cannot be computed (loss is inf)")
    with pytest.raises(SpecError, match="not a halt"):
        explain.explain_halt(measure(0, Config(), net.init_from_seed(0, (2, 2, 1))))


def test_a_halted_state_has_no_gradient_to_explain():
    run = _run("case7", 200)
    e = explain.explain_param(run.current, "hidden.weight[0][0]")
    assert e.gradient is None and e.update is None and "halted at epoch 98" in e.halted
    loss = explain.explain_loss(run.current)
    assert loss.mean is None and [r.term for r in loss.rows] == [None] * 4 and "refuses" in loss.refused


# ---------------------------------------------------------------- the loss


@pytest.mark.parametrize("loss,out", [("bce", "sigmoid"), ("bce", "relu"), ("mse", "tanh"), ("bce-logits", "relu")])
def test_the_loss_row_terms_give_the_engines_loss(loss, out):
    config = Config((2,), _acts("relu", out), loss, 0.1)
    n = 0
    for params in states(config, 30):
        rec = measure(0, config, params)
        if rec.halted:
            continue
        e = explain.explain_loss(rec)
        assert e.mean == rec.loss, "the mean of the row terms, summed in the engine's order, is its loss"
        ref = TORCH_LOSS[loss](reduction="none")
        pres, outs, _, _ = torch_step(params, config)
        per = ref(pres[-1] if loss == "bce-logits" else outs[-1], net.TARGET)[:, 0]
        assert [r.term for r in e.rows] == per.tolist()
        n += 1
    assert n >= 10


def test_the_clamp_is_the_one_torch_applies():
    """At ŷ = 0 and ŷ = 1 on the wrong side, a row costs exactly -(the clamp), and the text says it."""
    config = Config((2,), _acts("relu", "relu"), "bce", 0.1)
    for out_bias, wrong in ((0.0, (1, 2)), (1.0, (0, 3))):
        params = [(torch.zeros(1, 2, 2), torch.zeros(1, 2)), (torch.zeros(1, 1, 2), torch.full((1, 1), out_bias))]
        e = explain.explain_loss(measure(0, config, params))
        for r in e.rows:
            assert r.clamped == (r.row in wrong)
            if r.clamped:
                assert r.term == -explain.LOG_CLAMP == 100.0
                assert "(the log is clamped at -100)" in r.text
            else:
                assert r.term == 0
        assert e.mean == 50.0


# ---------------------------------------------------------------- units and "dead" at the boundary


def _net(hw, hb, ow, ob, config=None):
    """A batch-of-one state from plain lists."""
    t = torch.tensor
    return [(t([hw]), t([hb])), (t([ow]), t([ob]))]


def test_a_pre_activation_of_exactly_0_is_inactive():
    # h[0]: z = x1 + 0·x2 + 0 is exactly 0 on rows (0,0) and (0,1), 1 on the others
    config = Config()
    params = _net([[1.0, 0.0], [0.5, 0.5]], [0.0, 0.1], [[0.1, 0.1]], [0.1])
    rec = measure(0, config, params)
    assert not rec.halted
    u = explain.explain_unit(rec, "h[0]")
    assert [r.pre for r in u.rows] == [0.0, 0.0, 1.0, 1.0]
    assert [r.active for r in u.rows] == [False, False, True, True] and u.state == "2 of 4"
    assert "exactly 0, which counts as inactive: ReLU'(0) = 0" in u.why
    d = diagnosis.diagnose(rec)
    assert d.active[0][0] == [False, False, True, True] and d.counts["p"] == 6
    e = explain.explain_param(rec, "hidden.bias[0]")
    r0 = e.rows[0]
    assert r0.term == 0 and r0.why.startswith("ReLU'(0) = 0: h[0]'s pre-activation is exactly 0 on row (0,0)")
    # the first value that flips it: the smallest float32 above 0
    tiny = float(torch.nextafter(torch.tensor(0.0), torch.tensor(1.0)))
    rec2 = measure(0, config, net.with_value(params, net.parse_param("hidden.bias[0]", config), tiny))
    u2 = explain.explain_unit(rec2, "hidden[0]")
    assert u2.state == "alive" and u2.rows[0].pre == tiny
    assert explain.explain_param(rec2, "hidden.bias[0]").rows[0].term != 0


def test_a_unit_exactly_0_on_every_row_is_dead_and_the_suggestion_revives_it():
    config = Config()
    params = _net([[0.0, 0.0], [-1.0, -1.0]], [0.0, -0.5], [[1.0, 1.0]], [0.2])
    rec = measure(0, config, params)
    for name in ("h[0]", "hidden[0]"):
        u = explain.explain_unit(rec, name)
        assert u.state == "dead" and u.active_rows == 0
        assert u.frozen == ("hidden.weight[0][0]", "hidden.weight[0][1]", "hidden.bias[0]")
    assert "hidden[0]" in diagnosis.diagnose(rec).dead
    u = explain.explain_unit(rec, "h[1]")
    s = u.suggestion
    assert s.param == "hidden.bias[1]" and s.row_text == "(0,0)" and s.new_value == pytest.approx(0.01)
    after = measure(0, config, net.with_value(params, net.parse_param(s.param, config), s.new_value))
    assert float(after.pre[0][s.row, 1]) == s.pre_after > 0
    assert explain.explain_unit(after, "h[1]").active_rows == s.active_rows_after == 1


def test_the_suggestion_is_the_smallest_single_change():
    config = Config()
    count = 0
    for params in states(config, 40):
        rec = measure(0, config, params)
        for li, units in ((0, 2), (1, 1)):
            for j in range(units):
                u = explain.explain_unit(rec, UnitRef(li, j).name(config))
                if u.active_rows == 4:
                    assert u.suggestion is None
                    continue
                s = u.suggestion
                if s is None:
                    continue
                # every (row, parameter) pair: the exact distance to the boundary
                best = math.inf
                for r in u.rows:
                    if r.active:
                        continue
                    for a in (1.0, *r.inputs):
                        if a:
                            best = min(best, abs(-r.pre / a))
                assert abs(s.change) >= best - 1e-6
                smallest_input = min(abs(a) for a in (1.0, *u.rows[s.row].inputs) if a)
                assert abs(s.change) <= best + explain.MARGIN / smallest_input + 2e-4
                after = measure(0, config, net.with_value(params, net.parse_param(s.param, config), s.new_value))
                assert float(after.pre[li][s.row, j]) > 0
                count += 1
    assert count >= 20


# ---------------------------------------------------------------- the case rules


# The README's table of the eight cases, written out independently of diagnosis.CASE_RULES:
# per case, the range of each count it needs (P of 8, O of 4, G of 9; hidden weights HW of 4 and
# hidden biases HB of 2 with gradient; OB: output.bias has gradient).
SPEC = {
    1: {"p": (8, 8), "o": (0, 0), "n": (0, 0)},
    2: {"p": (2, 7), "o": (0, 0), "n": (0, 0)},
    3: {"p": (8, 8), "o": (4, 4), "n": (9, 9)},
    4: {"p": (1, 7), "o": (4, 4), "n": (9, 9)},
    5: {"p": (0, 1), "o": (0, 0), "n": (0, 0)},
    6: {"p": (0, 0), "o": (4, 4), "n": (1, 1), "ob": (1, 1)},
    7: {"o": (1, 3), "hw": (1, 4)},
    8: {"o": (1, 3), "hw": (0, 0), "hb": (1, 2)},
}


def _inside(case: int) -> dict:
    """Counts inside every range of ``case``, consistent with each other."""
    counts = {"p": 4, "o": 2, "n": 3, "hw": 1, "hb": 1, "ob": 1}
    counts.update({k: lo for k, (lo, hi) in SPEC[case].items()})
    if case == 8:
        counts["n"] = 2
    return counts


@pytest.mark.parametrize("case", sorted(SPEC))
def test_each_case_rule_at_its_boundaries(case):
    """At each end of each range the case holds; one past it, it does not."""
    assert diagnosis.match(_inside(case))[0] == case
    for key, (lo, hi) in SPEC[case].items():
        for value, inside in ((lo, True), (hi, True), (lo - 1, False), (hi + 1, False)):
            if not 0 <= value <= COUNTS[key].of:
                continue
            got = diagnosis.match({**_inside(case), key: value})[0]
            assert (got == case) == inside, (case, key, value, got)


def test_the_rules_are_the_diagnosis_data_and_classify_the_source_cases():
    for k in range(1, 9):
        rec = measure(0, resolve(f"case{k}").config, resolve(f"case{k}").new_run().current.params)
        e = explain.explain_case(rec)
        assert e.case == k and all(c.holds for c in e.checks)
        assert [c.text for c in e.checks] == [r.text for r in CASE_RULES[k]]


def test_case7s_flip_at_97_is_named_in_the_checklist_and_is_an_event():
    run = _run("case7", 97)
    e = explain.explain_case(run.current, [run.records[k] for k in range(87, 97)])
    assert e.label == "no case (nearest 4)" and e.checked == 4
    assert [(c.text, c.holds) for c in e.checks] == [
        ("some (1 to 7) hidden pre-activations negative", True),
        ("output active on all rows", True),
        ("every parameter receives gradient", False),
    ]
    text = "\n".join(e.lines())
    assert "✗ every parameter receives gradient: G = 8 (needs 9)" in text
    assert "epochs 87 to 97: 7 7 7 7 7 7 7 7 7 7 none" in text
    (ch,) = e.changes
    assert ch.epoch == 97 and ch.before == "case 7"
    assert "case 7's 'output active on 1 to 3 rows' no longer holds (O 3 -> 4)" in ch.flips
    from xor_tui.core.studies.replay import Trace

    evs = [ev for ev in Trace.follow(run).events[97] if ev.kind == "case"]
    want = "case 7 -> no case (nearest 4): output active on 1 to 3 rows: no longer (O 3 -> 4)"
    assert [ev.text for ev in evs] == [want]


def test_a_flicker_is_named_with_the_rule_that_flipped_each_time(tmp_path):
    (tmp_path / "s.toml").write_text('name = "s32"\nepochs = 200\n[start]\nseed = 32\n')
    from xor_tui.core.io.scenario import load

    run = load(str(tmp_path / "s.toml")).new_run()
    run.advance(61)
    e = explain.explain_case(run.current, [run.records[k] for k in range(51, 61)])
    assert e.flicker and [h[1] for h in e.history] == ["case 7"] + ["case 8"] * 9 + ["case 7"]
    assert [(c.epoch, c.before, c.after) for c in e.changes] == [(52, "case 7", "case 8"), (61, "case 8", "case 7")]
    assert e.changes[1].flips[0] == (
        "case 8's 'no hidden weight receives gradient' no longer holds (hidden weights with gradient 0 -> 1)"
    )
    assert "the case flickers: it changed 2 times in these epochs, near a rule's boundary" in e.lines()


def test_n_a_says_why():
    run = _run("case7-elu", 0)
    e = explain.explain_case(run.current)
    assert e.label == "case n/a" and e.reason == diagnosis.NOT_SOURCE_NET
    assert e.lines()[-1] == f"n/a: {diagnosis.NOT_SOURCE_NET}"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "text,shape,want",
    [
        ("h[0]", (2,), "hidden[0]"),
        ("hidden[1]", (2,), "hidden[1]"),
        (" out ", (2,), "output[0]"),
        ("output", (2,), "output[0]"),
        ("output[0]", (2,), "output[0]"),
        ("out[0]", (2,), "output[0]"),
        ("h2[1]", (2, 2), "hidden2[1]"),
        ("hidden2[0]", (4, 2), "hidden2[0]"),
    ],
)
def test_a_unit_by_either_name(text, shape, want):
    config = Config(shape, _acts(*["relu"] * (len(shape) + 1)))
    assert net.parse_unit(text, config).name(config) == want


@pytest.mark.parametrize("text", ["h[2]", "h2[0]", "hidden", "x1", "", "hidden.weight[0][0]", "h[-1]", "h[0]x", None])
def test_a_unit_that_is_not_there_is_one_clear_error(text):
    with pytest.raises(SpecError) as err:
        net.parse_unit(text, Config())
    assert "\n" not in str(err.value)


def test_a_scenarios_dead_list_takes_the_screens_names_too(tmp_path):
    from xor_tui.core.io.scenario import load

    src = resolve("case7")
    text = "\n".join(
        [
            'name = "t"',
            "epochs = 3",
            "[start]",
            "seed = 0",
            "[[expect]]",
            "epoch = 0",
            'dead = ["h[1]"]',
        ]
    )
    (tmp_path / "a.toml").write_text(text)
    assert load(str(tmp_path / "a.toml")).expect[0].dead == ["hidden[1]"]
    (tmp_path / "b.toml").write_text(text.replace('"h[1]"', '"h[1]", "hidden[1]"'))
    with pytest.raises(Exception, match="listed twice"):
        load(str(tmp_path / "b.toml"))
    assert src.name == "case7"


# ---------------------------------------------------------------- the command line


def test_json_holds_the_engines_numbers(capsys):
    assert main(["explain", "case7", "--epoch", "97", "--param", "output.bias[0]", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "param" and data["name"] == "output.bias[0]"
    rec = _run("case7", 97).current
    assert data["gradient"] == rec.grad(net.parse_param("output.bias[0]", rec.config))
    assert [r["row_text"] for r in data["rows"]] == list(net.ROWS)
    assert data["update"]["change"] == pytest.approx(2.6375, abs=1e-4)


@pytest.mark.parametrize("what", [["--unit", "out"], ["--loss"], ["--case"], ["--halt"], ["--param", "hidden.bias[1]"]])
def test_each_explanation_prints_text_and_json(what, capsys):
    assert main(["explain", "case7", "--epoch", "98", *what]) == 0
    text = capsys.readouterr().out
    assert text.startswith("case7: ")
    assert main(["explain", "case7", "--epoch", "98", *what, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == what[0].removeprefix("--")


@pytest.mark.parametrize(
    "args,message",
    [
        (["nope", "--loss"], "nope: neither a built-in scenario nor a file"),
        (["case1", "--param", "hidden.weight[2][0]"], "hidden has 2 unit(s), index 2 is out of range"),
        (["case1", "--unit", "h[7]"], "index 7 is out of range"),
        (["case1", "--unit", "z"], "unknown unit 'z'; expected one of h[0], h[1], out"),
        (["case1", "--halt"], "case1 has not halted within its 200 epochs; --halt explains a halt"),
        (["case1", "--epoch", "-3", "--loss"], "--epoch must be from 0 to 1,000,000, got -3"),
        (["case1"], "one of the arguments --param --unit --loss --halt --case is required"),
        (["case1", "--loss", "--case"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) if "--loss" in args and "--case" in args or args == ["case1"] else _nothing():
        code = main(["explain", *args])
        assert code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_past_a_halt_the_halt_is_explained(capsys):
    assert main(["explain", "case7", "--epoch", "150", "--unit", "h[1]"]) == 0
    out, err = capsys.readouterr()
    assert "case7 halts at epoch 98, before epoch 150: explaining that state" in err
    assert out.startswith("case7: h[1] (hidden[1]) at epoch 98")
    assert "dead: " in out


# ---------------------------------------------------------------- replay and help


def test_replay_carries_the_nearest_case_and_stays_aligned(capsys, tmp_path):
    assert main(["replay", "case8", "--epochs", "75", "--csv", str(tmp_path / "t.csv")]) == 0
    table = capsys.readouterr().out.splitlines()
    head = next(line for line in table if line.lstrip().startswith("epoch"))
    col = head.index("dead")
    rows = [line for line in table if line[:7].strip().isdigit()]
    assert any("none (nearest 8)" in line for line in rows)
    assert all(line[col - 2 : col] == "  " and line[col] != " " for line in rows)
    import csv

    with open(tmp_path / "t.csv") as fh:
        recs = list(csv.DictReader(fh))
    assert (recs[70]["case"], recs[70]["nearest"]) == ("8", "")
    assert (recs[71]["case"], recs[71]["nearest"]) == ("", "8")
    assert main(["replay", "case8", "--epochs", "75", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["epochs"]
    assert (data[70]["case"], data[70]["nearest"]) == (8, None)
    assert (data[71]["case"], data[71]["nearest"]) == (None, 8)


def test_activation_help_and_message_show_the_parameter_syntax(capsys):
    from xor_tui.cli.common import ACTIVATION_HELP

    assert all(name in ACTIVATION_HELP for name in NAMES) and "leaky_relu:0.01" in ACTIVATION_HELP
    with pytest.raises(SpecError, match=r"leaky_relu:0\.01"):
        parse_activation("leaky")
    with pytest.raises(SystemExit):
        main(["survey", "--help"])
    assert "leaky_relu:0.01" in capsys.readouterr().out.replace("\n", " ").replace("  ", "")


def test_a_case_change_is_a_notable_event_n_stops_at():
    """`n` (run to the next event) stops where the case changes, even with no other event."""
    from xor_tui.core.session import Session

    s = Session(Run(Config(), Start("seed", seed=45)), "t")  # seed 45: no other event before it
    assert s.run_until(10_000, stop_on_event=True) == "event"
    assert s.epoch == 14
    assert [(e.kind, e.text) for e in s.trace.events[14]] == [
        ("case", "case 7 -> no case (nearest 4): output active on 1 to 3 rows: no longer (O 3 -> 4)")
    ]
