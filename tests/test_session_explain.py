"""What the app reads the explanations through: ``Session.explain`` and ``Frame.checklist``."""

from __future__ import annotations

import pytest

import xor_tui  # noqa: F401  first: MKL_CBWR before torch
from xor_tui.core.engine.activations import SpecError
from xor_tui.core.io.scenario import builtin
from xor_tui.core.rules import explain
from xor_tui.core.session import Session


def session_at(name: str, epoch: int) -> Session:
    s = Session.from_scenario(builtin(name))
    s.run_until(epoch)
    assert s.epoch == epoch
    return s


def test_session_explain_gives_the_cores_explanations_of_the_state_shown():
    s = session_at("case7", 97)
    rec = s.record
    assert s.explain("param", "output.bias[0]") == explain.explain_param(rec, "output.bias[0]")
    assert s.explain("param", "output.bias[0]").gradient == pytest.approx(-2637.48, abs=0.005)
    assert s.explain("unit", "h[1]") == explain.explain_unit(rec, "hidden[1]")
    assert s.explain("loss") == explain.explain_loss(rec)
    before = [s.run.records[k] for k in range(87, 97)]
    assert s.explain("case") == explain.explain_case(rec, before)
    # an earlier stored epoch, not the current one
    assert s.explain("param", "output.bias[0]", epoch=10).epoch == 10
    s.step()  # 98: the halt, with the step of 97 that led to it
    h = s.explain("halt")
    assert h == explain.explain_halt(s.record, s.run.records[97])
    assert h.steps[0].param == "output.bias[0]" and f"{h.steps[0].change:+.5g}" == "+2.6375"


def test_session_explain_refuses_in_one_line():
    s = session_at("case3", 3)
    with pytest.raises(SpecError, match="epoch 3 is not a halt"):
        s.explain("halt")
    with pytest.raises(SpecError, match="unknown subject 'why'"):
        s.explain("why")
    with pytest.raises(SpecError, match="a name is needed"):
        s.explain("param")
    with pytest.raises(SpecError):
        s.explain("unit", "h[7]")
    with pytest.raises(IndexError, match="epoch 4 is not stored"):
        s.explain("loss", epoch=4)


def test_the_frames_checklist_is_explain_case_with_the_traces_own_diagnoses():
    s = session_at("case7", 97)
    c = s.frame().checklist
    assert c == explain.explain_case(s.record, [s.run.records[k] for k in range(87, 97)])
    assert [ch.epoch for ch in c.changes] == [97] and c.label == "no case (nearest 4)"
    # the first epochs look back over what there is: epoch 0 has no epoch before it
    s0 = session_at("case7", 0)
    assert s0.frame().checklist.history == () and s0.frame().checklist.case == 7
    # given diagnoses must match the records: one per record
    with pytest.raises(ValueError, match="2 diagnoses for 3 records"):
        explain.explain_case(s.record, [s.run.records[95], s.run.records[96]], [s.diagnosis, s.diagnosis])


def test_the_checklist_is_made_once_per_frame_and_only_when_asked(monkeypatch):
    s = session_at("case3", 5)
    made = []
    real = explain.explain_case
    import xor_tui.core.view as view

    monkeypatch.setattr(view, "explain_case", lambda *a, **k: made.append(1) or real(*a, **k))
    f = s.frame()
    assert made == []  # a frame that is not drawn costs no checklist
    assert f.checklist is f.checklist and made == [1]
