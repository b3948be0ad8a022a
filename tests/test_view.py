"""The Frame: what the app draws for one state, built by the Session from core's diagnosis."""

import dataclasses
import math

import pytest

from xor_tui.core.io.scenario import builtin
from xor_tui.core.session import Session
from xor_tui.core.view import build_frame


def test_case1_frame_names_the_dead_output_and_frozen_parameters():
    f = Session.from_scenario(builtin("case1")).frame()
    out = f.unit("output[0]")
    assert out.state == "dead" and out.dead and out.marks == ("-", "-", "-", "-")
    assert [u.state for u in f.units[:2]] == ["alive", "alive"]
    assert all(e.frozen and not e.flowing and e.grad == 0 for e in f.edges)
    assert all(p.frozen for p in f.params) and f.case == 1 and f.case_text == "case 1"
    assert any("no parameter can change" in line for line in f.explanation)
    assert f.config.shape == "2-2-1" and f.config.activations == ("ReLU", "ReLU") and f.config.epochs == 200


def test_case7_halt_keeps_the_offending_rows_with_their_exact_values():
    s = Session.from_scenario(builtin("case7"))
    assert s.run_until(200) == "halted"
    f = s.frame()
    rec = s.run.current
    assert f.epoch == 98 and f.halted and f.loss is None
    assert f.halt.values == tuple(float(rec.out[-1][r, 0]) for r in f.halt.rows)
    assert [r.offending for r in f.rows] == [r in f.halt.rows for r in range(4)]
    # 2.876 is on the right side of ½ for a target-1 row, but BCELoss refused it: neither ✓ nor ✗
    assert [r.verdict for r in f.rows] == ["refused"] * 4 and f.rows[1].prediction > 0.5
    assert all(e.grad is None and not e.flowing and not e.frozen for e in f.edges)
    assert len(f.losses) == 99 and math.isnan(f.losses[-1]) and f.losses[0] == s.run.records[0].loss
    assert f.events[0].kind == "halts"  # newest first


def test_frame_of_an_earlier_epoch_and_step_back_agree():
    s = Session.from_scenario(builtin("case3"))
    s.run_until(10)
    earlier = s.frame(4)
    for _ in range(6):
        s.back()
    now = s.frame()
    assert earlier == now  # plain data: equal field by field
    assert len(now.losses) == 5 and list(now.losses) == [r.loss for r in (s.run.records[k] for k in range(5))]
    with pytest.raises(dataclasses.FrozenInstanceError):
        now.epoch = 3


def test_the_grid_is_the_engines_own_float32_forward_once_per_frame():
    s = Session.from_scenario(builtin("case4"))
    s.run_until(20)
    f = s.frame()
    rec = s.run.current
    g = f.grid([0.0, 1.0], [0.0, 1.0])  # rows: y = 0, then y = 1; columns x = 0, x = 1
    order = [(0, 0), (1, 0), (0, 1), (1, 1)]  # XOR rows (0,0) (0,1) (1,0) (1,1) as (y index, x index)
    for r, (i, j) in enumerate(order):
        for li, z in enumerate(rec.pre):  # bit for bit the record's own pre-activations and outputs
            assert [float(v) for v in g.pre[li][:, i, j]] == z[r].tolist()
            assert [float(v) for v in g.out[li][:, i, j]] == rec.out[li][r].tolist()
        assert float(g.prediction[i, j]) == f.rows[r].prediction
    assert f.grid([0.0, 1.0], [0.0, 1.0]) is g  # kept with the frame: a redraw does not compute it again
    # a point exactly on a unit's line is not active (pre-activation exactly 0: ReLU passes nothing)
    w = {(e.target_index, e.source_index): e.value for e in f.edges if e.layer == 0}
    b0 = next(b.value for b in f.biases if b.layer == 0 and b.index == 0)
    s.set_param("hidden.bias[0]", "0")
    s.set_param("hidden.weight[0][1]", "0")
    flat = s.frame().grid([0.0, 0.5], [0.25])
    assert flat.pre[0][0, 0, 0] == 0 and not flat.active[0][0, 0, 0]
    assert flat.active[0][0, 0, 1] == (w[(0, 0)] > 0) and b0 != 0


def test_stepping_back_over_an_edit_reports_it():
    s = Session.from_scenario(builtin("case3"))
    s.step()
    s.step()
    s.set_param("output.bias[0]", "0.5")
    assert s.back() == ["set output.bias[0] = 0.5"]
    assert s.back() == []
    assert s.back() is None


def test_build_frame_with_its_optional_arguments_left_out_has_nothing_ahead():
    # losses_ahead defaulted to a dataclasses.field object, which the frame could not take in
    s = Session.from_scenario(builtin("case3"))
    s.run_until(3)
    rec, diag = s.record, s.diagnosis
    f = build_frame("case3", rec, diag, s.run.records[2], [], 0, "seed 0", 200, [0.5, 0.4, 0.3, 0.2])
    assert f.losses_ahead == () and f.epoch == 3 and f.checklist is not None
    assert f.checklist.case == s.frame().checklist.case
