"""The three losses, each as PyTorch computes it, batched over networks.

Every function takes the output layer's pre-activation ``z`` and activation ``y``
(shape ``(B, 4, 1)``) and returns per-network values, so one network and a survey of
100,000 go through the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

aten = torch.ops.aten

NAMES = ("bce", "bce-logits", "mse")
LABELS = {"bce": "BCELoss", "bce-logits": "BCEWithLogitsLoss", "mse": "MSELoss"}


@dataclass
class LossResult:
    loss: torch.Tensor  # (B,), NaN where the loss could not be computed
    grad_z: torch.Tensor  # (B, 4, 1) gradient w.r.t. z when the loss takes logits
    grad_y: torch.Tensor  # (B, 4, 1) gradient w.r.t. y otherwise
    valid: torch.Tensor  # (B,) False where BCELoss would raise (output outside [0, 1])
    on_logits: bool


def out_of_range(y: torch.Tensor) -> torch.Tensor:
    """Rows BCELoss refuses: outside [0, 1] or NaN. Shape ``(B, 4)``."""
    y = y[..., 0]
    return ~((y >= 0) & (y <= 1))


def compute(name: str, z: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> LossResult:
    t = target.expand_as(y)
    n_rows = y.shape[1]
    if name == "bce":
        bad = out_of_range(y).any(dim=1)
        # BCELoss raises for the whole batch on one bad value; evaluate a harmless 0.5
        # there instead and report those networks as invalid.
        y_safe = torch.where(bad[:, None, None], torch.full_like(y, 0.5), y)
        per_row = F.binary_cross_entropy(y_safe, t, reduction="none")
        loss = per_row.mean(dim=(1, 2))
        loss = torch.where(bad, torch.full_like(loss, float("nan")), loss)
        ones = torch.ones_like(y)
        # torch divides the element-wise gradient by numel for the mean reduction.
        grad = aten.binary_cross_entropy_backward(ones, y_safe, t, None, 0) / n_rows
        return LossResult(loss, torch.zeros_like(z), grad, ~bad, False)
    if name == "bce-logits":
        per_row = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        grad = (torch.sigmoid(z) - t) / n_rows
        loss = per_row.mean(dim=(1, 2))
        return LossResult(loss, grad, torch.zeros_like(y), torch.ones_like(loss, dtype=torch.bool), True)
    if name == "mse":
        per_row = F.mse_loss(y, t, reduction="none")
        grad = aten.mse_loss_backward(torch.ones_like(y), y, t, 0) / n_rows
        loss = per_row.mean(dim=(1, 2))
        return LossResult(loss, torch.zeros_like(z), grad, torch.ones_like(loss, dtype=torch.bool), False)
    raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(NAMES)}")


def torch_message(y_row_values: torch.Tensor) -> str:
    """torch's own BCELoss error for these outputs, raised and caught for its text."""
    try:
        F.binary_cross_entropy(y_row_values, torch.zeros_like(y_row_values))
    except RuntimeError as exc:
        return str(exc)
    return "all elements of input should be between 0 and 1"


def predictions(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The probability-like number compared with 0.5 to call a row right or wrong."""
    return torch.sigmoid(z) if name == "bce-logits" else y
