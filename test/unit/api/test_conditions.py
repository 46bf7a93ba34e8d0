"""set_condition has meta.SetStatusCondition's semantics; condition and label constants are KAITO's."""

from __future__ import annotations

import datetime as dt

import pytest

from kaito.api import conditions as c
from kaito.api import labels
from kaito.kube.meta import Condition

T0 = dt.datetime(2024, 7, 11, 10, 0, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)


def _cond(status: str, reason: str = "R", message: str = "m", generation: int = 1) -> Condition:
    return Condition(
        type=c.RESOURCE_READY, status=status, reason=reason, message=message, observed_generation=generation
    )


def test_a_new_condition_is_appended_with_the_transition_time_now() -> None:
    out, changed = c.set_condition([], _cond(c.TRUE), now=T0)
    assert changed
    assert len(out) == 1
    assert (out[0].type, out[0].status, out[0].observed_generation) == (c.RESOURCE_READY, c.TRUE, 1)
    assert out[0].last_transition_time == "2024-07-11T10:00:00Z"


def test_same_status_keeps_the_transition_time_but_takes_reason_message_and_generation() -> None:
    first, _ = c.set_condition([], _cond(c.FALSE, "Pending", "waiting"), now=T0)
    out, changed = c.set_condition(
        first, _cond(c.FALSE, "StillPending", "still waiting", generation=2), now=T1
    )
    assert changed
    assert out[0].last_transition_time == "2024-07-11T10:00:00Z"
    assert (out[0].reason, out[0].message, out[0].observed_generation) == ("StillPending", "still waiting", 2)


def test_a_status_flip_moves_the_transition_time() -> None:
    first, _ = c.set_condition([], _cond(c.FALSE), now=T0)
    out, changed = c.set_condition(first, _cond(c.TRUE), now=T1)
    assert changed
    assert out[0].last_transition_time == "2024-07-11T10:05:00Z"


def test_setting_an_identical_condition_reports_no_change() -> None:
    first, _ = c.set_condition([], _cond(c.TRUE), now=T0)
    out, changed = c.set_condition(first, _cond(c.TRUE), now=T1)
    assert not changed
    assert out == first


def test_set_condition_does_not_mutate_its_input_and_keeps_the_order() -> None:
    a = Condition(type="A", status=c.TRUE, last_transition_time="x")
    b = Condition(type="B", status=c.TRUE, last_transition_time="x")
    before = [a, b]
    out, _ = c.set_condition(before, Condition(type="A", status=c.FALSE), now=T0)
    assert before == [a, b] and a.status == c.TRUE
    assert [x.type for x in out] == ["A", "B"]


def test_an_invalid_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status must be True, False or Unknown"):
        c.set_condition([], Condition(type="A", status="true"))


def test_find_is_true_and_remove() -> None:
    conds, _ = c.set_condition([], _cond(c.TRUE), now=T0)
    assert c.is_true(conds, c.RESOURCE_READY)
    assert not c.is_true(conds, c.INFERENCE_READY)
    assert c.find_condition(None, c.RESOURCE_READY) is None
    left, removed = c.remove_condition(conds, c.RESOURCE_READY)
    assert removed and left == []


def test_condition_types_and_label_keys_are_kaitos() -> None:
    assert c.WORKSPACE_CONDITION_TYPES[:1] == ("ResourceReady",)
    assert {"ResourceReady", "InferenceReady", "JobStarted", "WorkspaceSucceeded", "WorkspaceReady"} <= set(
        c.WORKSPACE_CONDITION_TYPES
    )
    assert c.MACHINE_CONDITION_TYPES == ("Launched", "Registered", "Initialized", "Ready")
    assert labels.LABEL_WORKSPACE == "kaito.sh/workspace"
    assert labels.LABEL_WORKSPACE_NAMESPACE == "kaito.sh/workspacenamespace"
    assert labels.is_reserved_label("kaito.sh/workspace")
    assert labels.is_reserved_label("karpenter.kaito.sh/workspace-name")
    assert not labels.is_reserved_label("app")
