"""Condition types and reasons of Workspace and Machine, and `set_condition` with the semantics of
apimachinery's meta.SetStatusCondition (pkg/api/meta/conditions.go).

set_condition keeps lastTransitionTime unless the status flips, always updates reason, message and
observedGeneration, and reports whether anything changed, so the controller writes status only on a
real change. It returns a new list and never mutates its input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import msgspec

from kaito.kube.meta import Condition

TRUE: Final = "True"
FALSE: Final = "False"
UNKNOWN: Final = "Unknown"

# Workspace condition types (KAITO-REFERENCE §1.4).
RESOURCE_READY: Final = "ResourceReady"
MACHINE_READY: Final = "MachineReady"
INFERENCE_READY: Final = "InferenceReady"
JOB_STARTED: Final = "JobStarted"
WORKSPACE_SUCCEEDED: Final = "WorkspaceSucceeded"
WORKSPACE_READY: Final = "WorkspaceReady"
WORKSPACE_DELETING: Final = "WorkspaceDeleting"
WORKSPACE_CONDITION_TYPES: Final = (
    RESOURCE_READY,
    MACHINE_READY,
    INFERENCE_READY,
    JOB_STARTED,
    WORKSPACE_SUCCEEDED,
    WORKSPACE_READY,
    WORKSPACE_DELETING,
)

# Workspace condition reasons (CamelCase, as metav1.Condition requires; KAITO's names where it has one).
REASON_MACHINE_PENDING: Final = "CreateMachinePending"
REASON_MACHINE_CREATE_FAILED: Final = "MachineFailedCreation"
REASON_MACHINE_NOT_READY: Final = "MachineNotReady"
REASON_NODES_READY: Final = "InstallNodePluginsSuccess"
REASON_RESOURCE_READY: Final = "WorkspaceResourceStatusSuccess"
REASON_RESOURCE_NOT_READY: Final = "WorkspaceResourceStatusNotReady"
REASON_RESOURCE_FAILED: Final = "WorkspaceResourceStatusFailed"
REASON_CANNOT_FIT: Final = "InsufficientGPUMemory"
REASON_INFERENCE_READY: Final = "WorkspaceInferenceStatusSuccess"
REASON_INFERENCE_PENDING: Final = "WorkspaceInferenceStatusPending"
REASON_INFERENCE_FAILED: Final = "WorkspaceInferenceStatusFailed"
REASON_JOB_STARTED: Final = "WorkspaceTuningJobStatusStarted"
REASON_JOB_PENDING: Final = "WorkspaceTuningJobStatusPending"
REASON_JOB_FAILED: Final = "WorkspaceTuningJobStatusFailed"
REASON_JOB_SUCCEEDED: Final = "WorkspaceTuningJobStatusSucceeded"
REASON_ADAPTER_PUSHED: Final = "TuningOutputDelivered"
REASON_WORKSPACE_READY: Final = "WorkspaceReady"
REASON_WORKSPACE_SUCCEEDED: Final = "WorkspaceSucceeded"
REASON_WORKSPACE_PENDING: Final = "WorkspacePending"
REASON_WORKSPACE_FAILED: Final = "WorkspaceFailed"
REASON_WORKSPACE_DELETED: Final = "WorkspaceDeleted"
REASON_INVALID_SPEC: Final = "InvalidSpec"

# Machine condition types (Karpenter-core v1alpha5): each implies the ones before it.
MACHINE_LAUNCHED: Final = "Launched"
MACHINE_REGISTERED: Final = "Registered"
MACHINE_INITIALIZED: Final = "Initialized"
MACHINE_READY_CONDITION: Final = "Ready"
MACHINE_CONDITION_TYPES: Final = (
    MACHINE_LAUNCHED,
    MACHINE_REGISTERED,
    MACHINE_INITIALIZED,
    MACHINE_READY_CONDITION,
)
# The Launched=False message Karpenter uses when no instance type could be launched (KAITO stops on it).
MSG_INSUFFICIENT_CAPACITY: Final = "all requested instance types were unavailable during launch"


def rfc3339(now: dt.datetime) -> str:
    """A metav1.Time string: UTC, second precision, 'Z' suffix."""
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_condition(conditions: Sequence[Condition] | None, type_: str) -> Condition | None:
    """The condition of the given type, or None."""
    for cond in conditions or ():
        if cond.type == type_:
            return cond
    return None


def is_true(conditions: Sequence[Condition] | None, type_: str) -> bool:
    """Whether the condition of the given type exists with status True."""
    cond = find_condition(conditions, type_)
    return cond is not None and cond.status == TRUE


def set_condition(
    conditions: Sequence[Condition] | None,
    new: Condition,
    *,
    now: dt.datetime | None = None,
) -> tuple[list[Condition], bool]:
    """Return the conditions with `new` set in place, and whether anything changed.

    As meta.SetStatusCondition: a new type is appended (with lastTransitionTime = now unless given);
    an existing one gets a new lastTransitionTime only when its status flips, and always takes the new
    reason, message and observedGeneration. Order of the other conditions is kept.
    """
    if new.status not in (TRUE, FALSE, UNKNOWN):
        raise ValueError(f"condition {new.type}: status must be True, False or Unknown, not {new.status!r}")
    stamp = rfc3339(now or dt.datetime.now(dt.UTC))
    out = list(conditions or ())
    for i, old in enumerate(out):
        if old.type != new.type:
            continue
        flipped = old.status != new.status
        transition = (new.last_transition_time or stamp) if flipped else old.last_transition_time
        updated = msgspec.structs.replace(
            old,
            status=new.status,
            reason=new.reason,
            message=new.message,
            observed_generation=new.observed_generation,
            last_transition_time=transition,
        )
        out[i] = updated
        return out, updated != old
    out.append(msgspec.structs.replace(new, last_transition_time=new.last_transition_time or stamp))
    return out, True


def remove_condition(conditions: Sequence[Condition] | None, type_: str) -> tuple[list[Condition], bool]:
    """Return the conditions without the given type, and whether one was removed."""
    out = [c for c in conditions or () if c.type != type_]
    return out, len(out) != len(conditions or ())
