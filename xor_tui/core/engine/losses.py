"""The three losses, each as PyTorch computes it, batched over networks.

Every function takes the output layer's pre-activation ``z`` and activation ``y``,
shaped (4 rows, B networks), and returns per-network values, so one network and a
survey of 100,000 go through the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from xor_tui.core.engine.activations import SpecError

aten = torch.ops.aten

NAMES = ("bce", "bce-logits", "mse")
LABELS = {"bce": "BCELoss", "bce-logits": "BCEWithLogitsLoss", "mse": "MSELoss"}


def check_name(name: object) -> str:
    """The one check of a loss name."""
    if not isinstance(name, str) or name not in NAMES:
        shown = repr(name[:40]) if isinstance(name, str) else type(name).__name__
        raise SpecError(f"unknown loss {shown}; expected one of {', '.join(NAMES)}")
    return name


@dataclass
class LossResult:
    loss: torch.Tensor | None  # (B,), NaN where it could not be computed; None if not asked
    grad_z: torch.Tensor  # (4, B) gradient w.r.t. z when the loss takes logits
    grad_y: torch.Tensor  # (4, B) gradient w.r.t. y otherwise
    valid: torch.Tensor  # (B,) False where BCELoss would raise (output outside [0, 1])
    on_logits: bool


def out_of_range(y: torch.Tensor, nonnegative: bool = False) -> torch.Tensor:
    """Elements BCELoss refuses: outside [0, 1] or NaN (every comparison with NaN fails).

    ``nonnegative``: the output activation cannot go below 0 (ReLU, sigmoid), so one
    comparison suffices.
    """
    return ~(y <= 1) if nonnegative else y.clamp(0, 1) != y


def _mean_rows(per_row: torch.Tensor) -> torch.Tensor:
    return (((per_row[0] + per_row[1]) + per_row[2]) + per_row[3]) / per_row.shape[0]


def compute(
    name: str, z: torch.Tensor, y: torch.Tensor, target: torch.Tensor, value: bool = True, nonnegative: bool = False
) -> LossResult:
    """``target`` is (4, 1): one label per row, shared by every network.

    ``value=False`` skips BCELoss's value (the survey needs only the gradient): with
    outputs in [0, 1] it is always finite, its logs being clamped at -100.
    """
    t = target.expand_as(y)
    n_rows = y.shape[0]
    if name == "bce":
        bad = out_of_range(y, nonnegative).any(dim=0)
        # BCELoss raises for the whole batch on one bad value; evaluate a harmless 0.5
        # there instead and report those networks as invalid.
        any_bad = bool(bad.any())
        y_safe = y.masked_fill(bad[None, :], 0.5) if any_bad else y
        if value:
            loss = _mean_rows(F.binary_cross_entropy(y_safe, t, reduction="none"))
            if any_bad:
                loss = loss.masked_fill(bad, float("nan"))
        else:
            loss = None
        ones = torch.ones(()).expand_as(y)
        # torch divides the element-wise gradient by numel for the mean reduction.
        grad = aten.binary_cross_entropy_backward(ones, y_safe, t, None, 0).div_(n_rows)
        return LossResult(loss, torch.zeros_like(z), grad, ~bad, False)
    if name == "bce-logits":
        per_row = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        grad = (torch.sigmoid(z) - t) / n_rows
        loss = _mean_rows(per_row)
        return LossResult(loss, grad, torch.zeros_like(y), torch.ones_like(loss, dtype=torch.bool), True)
    if name == "mse":
        per_row = F.mse_loss(y, t, reduction="none")
        grad = aten.mse_loss_backward(torch.ones_like(y), y, t, 0) / n_rows
        loss = _mean_rows(per_row)
        return LossResult(loss, torch.zeros_like(z), grad, torch.ones_like(loss, dtype=torch.bool), False)
    check_name(name)
    raise AssertionError(name)


def torch_message(y_row_values: torch.Tensor) -> str:
    """torch's own BCELoss error for these outputs, raised and caught for its text."""
    try:
        F.binary_cross_entropy(y_row_values, torch.zeros_like(y_row_values))
    except RuntimeError as exc:
        return str(exc)
    return "all elements of input should be between 0 and 1"


def predictions(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Any layout; same shape out."""
    return torch.sigmoid(z) if name == "bce-logits" else y
