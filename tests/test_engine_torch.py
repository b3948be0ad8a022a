"""Our arithmetic against PyTorch's own modules, autograd and optimizer."""

import math

import pytest
import torch
import torch.nn as nn

from tests import digest, student
from xor_tui.core.engine import losses, net
from xor_tui.core.engine.activations import NAMES, Activation, parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Run, Start

TORCH_ACTS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": lambda: nn.ELU(1.0),
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
}
TORCH_LOSS = {"bce": nn.BCELoss, "mse": nn.MSELoss, "bce-logits": nn.BCEWithLogitsLoss}


def torch_reference(params, config):
    """Forward, loss and backward through nn.Linear modules and autograd."""
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
        a = (
            TORCH_ACTS[act.name]()(z)
            if act.param is None or act.name not in ("leaky_relu", "elu")
            else (nn.LeakyReLU(act.param)(z) if act.name == "leaky_relu" else nn.ELU(act.param)(z))
        )
        pres.append(z)
        outs.append(a)
    loss_in = pres[-1] if config.loss == "bce-logits" else outs[-1]
    loss = TORCH_LOSS[config.loss]()(loss_in, net.TARGET)
    loss.backward()
    return mods, pres, outs, loss


def random_configs():
    cases = []
    for seed in range(12):
        for act in NAMES:
            hidden = [(2,), (3,), (4, 2), (4, 4)][seed % 4]
            out_act = "sigmoid" if seed % 2 else act
            loss = "bce" if out_act == "sigmoid" else "mse"
            acts = tuple(parse_activation(a) for a in [act] * len(hidden) + [out_act])
            cases.append((seed, Config(hidden, acts, loss, 0.05)))
    return cases


@pytest.mark.parametrize(
    "seed,config",
    random_configs(),
    ids=lambda v: (
        str(v) if isinstance(v, int) else f"{v.shape_text}-{'/'.join(a.name for a in v.activations)}-{v.loss}"
    ),
)
def test_forward_backward_step_equal_torch_bit_for_bit(seed, config):
    params = net.init_from_seed(seed, config.sizes)
    p = net.evaluate(params, config)
    mods, pres, outs, loss = torch_reference(params, config)
    for ours, theirs in zip(p.pre, pres):
        assert torch.equal(ours[0], theirs.detach())
    for ours, theirs in zip(p.out, outs):
        assert torch.equal(ours[0], theirs.detach())
    assert float(p.loss[0]) == pytest.approx(loss.item(), rel=1e-6, abs=1e-7)
    for (gw, gb), m in zip(p.grads, mods):
        assert torch.equal(gw[0], m.weight.grad)
        assert torch.equal(gb[0], m.bias.grad)
    new = net.sgd_step(params, p.grads, config)
    torch.optim.SGD([q for m in mods for q in m.parameters()], lr=config.lr).step()
    for (w, b), m in zip(new, mods):
        assert torch.equal(w[0], m.weight.detach())
        assert torch.equal(b[0], m.bias.detach())


def test_bce_logits_matches_torch_closely():
    config = Config((2,), (Activation("relu"), Activation("identity")), "bce-logits", 0.1)
    for seed in range(20):
        params = net.init_from_seed(seed, config.sizes)
        p = net.evaluate(params, config)
        mods, _, _, loss = torch_reference(params, config)
        assert float(p.loss[0]) == pytest.approx(loss.item(), rel=1e-6)
        for (gw, gb), m in zip(p.grads, mods):
            torch.testing.assert_close(gw[0], m.weight.grad, rtol=1e-6, atol=1e-8)
            torch.testing.assert_close(gb[0], m.bias.grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "y",
    [
        [0.0, 1.0, 1.0, 0.0],  # perfect
        [1.0, 0.0, 0.0, 1.0],  # perfectly wrong: logs clamp at -100
        [0.0, 0.0, 0.0, 0.0],  # the source's dead output: loss 50
        [1e-30, 0.5, 0.999999, 1.0],
        [0.25, 0.75, 0.5, 0.125],
    ],
)
def test_bce_loss_and_gradient_equal_torch_bceloss(y):
    yt = torch.tensor(y).reshape(4, 1).requires_grad_()
    loss = nn.BCELoss()(yt, net.TARGET)
    loss.backward()
    res = losses.compute("bce", yt.detach(), yt.detach(), net.TARGET)
    assert bool(res.valid[0])
    assert float(res.loss[0]) == loss.item()
    assert torch.equal(res.grad_y, yt.grad)


def test_bce_random_inputs_equal_torch():
    g = torch.Generator().manual_seed(3)
    y = torch.rand(4, 500, generator=g)
    res = losses.compute("bce", y, y, net.TARGET)
    for i in range(0, 500, 37):
        yt = y[:, i : i + 1].clone().requires_grad_()
        loss = nn.BCELoss()(yt, net.TARGET)
        loss.backward()
        assert float(res.loss[i]) == loss.item()
        assert torch.equal(res.grad_y[:, i : i + 1], yt.grad)


@pytest.mark.parametrize("bad", [1.0000001, 2.9, -1e-7, float("nan"), float("inf")])
def test_outputs_outside_0_1_are_refused_with_torchs_own_message(bad):
    y = torch.tensor([0.5, bad, 0.5, 0.5]).reshape(4, 1)
    with pytest.raises(RuntimeError) as info:
        nn.BCELoss()(y, net.TARGET)
    res = losses.compute("bce", y, y, net.TARGET)
    assert not bool(res.valid[0])
    assert math.isnan(float(res.loss[0]))
    assert losses.torch_message(y[:, 0]) == str(info.value)


def test_relu_gradient_at_exactly_zero_is_zero():
    # hidden unit 0's pre-activation is exactly 0 on row (0,0) and positive elsewhere
    sd = {
        "hidden.weight": [[0.5, 0.5], [0.3, 0.2]],
        "hidden.bias": [0.0, 0.1],
        "output.weight": [[0.4, 0.3]],
        "output.bias": [0.2],
    }
    config = Config()
    params = net.from_state_dict(sd, config)
    p = net.evaluate(params, config)
    assert float(p.pre[0][0, 0, 0]) == 0.0
    mods, pres, _, _ = torch_reference(params, config)
    assert pres[0].grad[0, 0].item() == 0.0  # torch agrees: no gradient at 0
    for (gw, gb), m in zip(p.grads, mods):
        assert torch.equal(gw[0], m.weight.grad)
        assert torch.equal(gb[0], m.bias.grad)
    # a unit whose pre-activation is exactly 0 on every row gets no gradient at all
    sd0 = dict(sd, **{"hidden.weight": [[0.0, 0.0], [0.3, 0.2]]})
    rec = Run(config, Start("explicit", values=sd0)).current
    assert rec.grads[0][0][0, 0].abs().sum() == 0 and float(rec.grads[0][1][0, 0]) == 0.0


@pytest.mark.parametrize("name", ["leaky_relu", "elu"])
def test_an_activation_made_without_its_parameter_takes_its_default(name):
    """``Activation("leaky_relu")`` is leaky_relu at slope 0.01, as its spec says and as parsing the
    name gives (it was a None that torch's leaky_relu and elu refused with a TypeError)."""
    made, parsed = Activation(name), parse_activation(name)
    assert made == parsed
    assert made.label == parsed.label == ("LeakyReLU(0.01)" if name == "leaky_relu" else "ELU(1)")
    z = torch.tensor([-2.0, -0.5, 0.0, 3.0], requires_grad=True)
    reference = (nn.LeakyReLU(0.01) if name == "leaky_relu" else nn.ELU(1.0))(z)
    reference.backward(torch.ones(4))
    out = made.forward(z.detach())
    assert torch.equal(out, reference.detach())
    assert torch.equal(made.backward(torch.ones(4), z.detach(), out), z.grad)


@pytest.mark.parametrize("sizes", [(2, 2, 1), (2, 3, 1), (2, 4, 3, 1), (2, 1, 1)])
def test_seed_start_equals_nn_linear_under_manual_seed(sizes):
    for seed in (0, 1, 42, 2**31 + 5):
        torch.manual_seed(seed)
        mods = [nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
        ours = net.init_from_seed(seed, sizes)
        for (w, b), m in zip(ours, mods):
            assert torch.equal(w[0], m.weight.detach())
            assert torch.equal(b[0], m.bias.detach())


def test_seed_start_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    net.init_from_seed(123, (2, 2, 1))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("case", range(1, 9))
def test_every_case_trains_exactly_as_the_students_loop(case):
    """200 epochs (or to the crash) of our engine equal the student's torch loop bit for bit."""
    ref = student.train(digest.state_dict(case), 0.001, 200, echo=lambda *a: None)
    run = Run(Config(), Start("explicit", values=digest.state_dict(case)))
    for k, st in enumerate(ref):
        rec = run.current
        assert rec.epoch == k
        assert torch.equal(rec.params[0][0][0], st["state"]["hide.weight"])
        assert torch.equal(rec.params[0][1][0], st["state"]["hide.bias"])
        assert torch.equal(rec.params[1][0][0], st["state"]["out.weight"])
        assert torch.equal(rec.params[1][1][0], st["state"]["out.bias"])
        if st["loss"] is None:
            assert rec.halted and rec.halt.message == st["error"]
            break
        assert rec.loss == st["loss"]
        assert torch.equal(rec.grads[0][0][0], st["grads"]["hide.weight"])
        assert torch.equal(rec.grads[1][0][0], st["grads"]["out.weight"])
        run.step()
