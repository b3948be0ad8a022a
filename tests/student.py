"""The student's training loop, rebuilt from the digest, with real torch modules.

Used as the reference our engine must reproduce: nn.Linear modules ``hide`` and
``out``, ReLU, BCELoss, and a plain SGD optimizer made anew every epoch.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])


def build(sd: dict) -> tuple[nn.Linear, nn.Linear]:
    hide, out = nn.Linear(2, 2), nn.Linear(2, 1)
    with torch.no_grad():
        hide.weight.copy_(torch.tensor(sd["hidden.weight"]))
        hide.bias.copy_(torch.tensor(sd["hidden.bias"]))
        out.weight.copy_(torch.tensor(sd["output.weight"]))
        out.bias.copy_(torch.tensor(sd["output.bias"]))
    return hide, out


def train(sd: dict, lr: float, epochs: int, act=nn.ReLU, echo=print) -> list[dict]:
    """Run the loop; return per-epoch states and call ``echo`` as the student printed."""
    hide, out = build(sd)
    relu1, relu2 = act(), act()
    loss_fn = nn.BCELoss()
    states = []
    for epoch in range(epochs):
        optimizer = torch.optim.SGD(list(hide.parameters()) + list(out.parameters()), lr=lr)
        echo("##########################epoches:", epoch, "##############################")
        h_in = hide(X)
        echo("hide activate input:", h_in)
        h_out = relu1(h_in)
        echo("hide activate output:", h_out)
        o_in = out(h_out)
        echo("out activate input:", o_in)
        y = relu2(o_in)
        echo("out activate output:", y)
        sd_now = OrderedDict({f"hide.{k}": v for k, v in hide.state_dict().items()})
        sd_now.update({f"out.{k}": v for k, v in out.state_dict().items()})
        echo(sd_now)
        state = {k: v.clone() for k, v in sd_now.items()}
        try:
            loss = loss_fn(y, Y)
        except RuntimeError as exc:
            echo(f"RuntimeError: {exc}")
            states.append({"state": state, "loss": None, "error": str(exc)})
            break
        echo("loss:", loss.item())
        optimizer.zero_grad()
        loss.backward()
        grads = {
            "hide.weight": hide.weight.grad.clone(),
            "hide.bias": hide.bias.grad.clone(),
            "out.weight": out.weight.grad.clone(),
            "out.bias": out.bias.grad.clone(),
        }
        states.append(
            {"state": state, "loss": loss.item(), "grads": grads, "h_in": h_in.detach(), "o_in": o_in.detach()}
        )
        optimizer.step()
    return states
