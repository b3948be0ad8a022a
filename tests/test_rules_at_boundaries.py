"""'Frozen' and 'dead' at their boundaries: a gradient of 3e-31 flows, exactly 0 is frozen; a
pre-activation of 1e-30 is active, exactly 0 is not (ReLU passes nothing there, and its
gradient at 0 is 0)."""

import numpy as np
import pytest

from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Run, Start
from xor_tui.core.rules.diagnosis import diagnose


def _state(bias0: float):
    # hidden unit 0 is active at most on row (0,0), where its pre-activation is its bias
    values = {
        "hidden.weight": [[-1.0, -1.0], [0.5, 0.5]],
        "hidden.bias": [bias0, 0.1],
        "output.weight": [[0.5, 0.5]],
        "output.bias": [0.2],
    }
    return Run(Config(), Start("explicit", values=values)).current


def test_a_tiny_nonzero_gradient_flows_and_an_exact_zero_is_frozen():
    rec = _state(1e-30)
    d = diagnose(rec)
    g = rec.grads[1][0][0, 0, 0].item()  # output.weight[0][0]: h[0] = 1e-30 on one row
    assert 0 < abs(g) < 1e-30
    assert "output.weight[0][0]" in d.flowing and "output.weight[0][0]" not in d.frozen
    # hidden.weight[0][*]: unit 0 is active only on row (0,0), whose inputs are 0: exactly 0
    assert rec.grads[0][0][0, 0].tolist() == [0.0, 0.0]
    assert {"hidden.weight[0][0]", "hidden.weight[0][1]"} == d.frozen


@pytest.mark.parametrize("bias0, dead, active_rows", [(1e-30, False, 1), (0.0, True, 0), (-1e-30, True, 0)])
def test_a_pre_activation_of_exactly_zero_is_inactive(bias0, dead, active_rows):
    rec = _state(bias0)
    assert rec.pre[0][0, 0].item() == float(np.float32(bias0))
    d = diagnose(rec)
    assert ("hidden[0]" in d.dead) is dead
    assert sum(d.active[0][0]) == active_rows
    if dead:  # no gradient reaches a dead unit's parameters
        assert {"hidden.weight[0][0]", "hidden.weight[0][1]", "hidden.bias[0]"} <= d.frozen
    else:
        assert "hidden.bias[0]" in d.flowing
