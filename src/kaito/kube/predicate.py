"""Event filters (controller-runtime pkg/predicate): which updates are worth a reconcile.

A Predicate has create/update/delete methods returning bool. `generation_changed` passes
updates that changed metadata.generation (spec changes on objects with a status subresource);
combine with `labels_changed`, `annotations_changed`, `finalizers_changed`, `deleting` through
`or_`. Resyncs (old is new) fail every update predicate here except `always`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kaito.kube.resource import KubeObject

UpdateFn = Callable[[Any, Any], bool]


def _true1(obj: Any) -> bool:
    return True


@dataclass(frozen=True)
class Predicate:
    """Filters for the three event kinds; the defaults let everything through."""

    create: Callable[[Any], bool] = _true1
    update: UpdateFn = lambda old, new: True
    delete: Callable[[Any], bool] = _true1


def _on_update(fn: UpdateFn) -> Predicate:
    return Predicate(update=lambda old, new: old is not new and fn(old, new))


def _meta(o: KubeObject) -> Any:
    return o.metadata


generation_changed = _on_update(lambda o, n: _meta(o).generation != _meta(n).generation)
labels_changed = _on_update(lambda o, n: (_meta(o).labels or {}) != (_meta(n).labels or {}))
annotations_changed = _on_update(lambda o, n: (_meta(o).annotations or {}) != (_meta(n).annotations or {}))
finalizers_changed = _on_update(lambda o, n: (_meta(o).finalizers or []) != (_meta(n).finalizers or []))
deleting = _on_update(lambda o, n: _meta(o).deletion_timestamp != _meta(n).deletion_timestamp)
resource_version_changed = _on_update(lambda o, n: _meta(o).resource_version != _meta(n).resource_version)


def or_(*preds: Predicate) -> Predicate:
    """Passes when any predicate passes."""
    return Predicate(
        create=lambda o: any(p.create(o) for p in preds),
        update=lambda o, n: any(p.update(o, n) for p in preds),
        delete=lambda o: any(p.delete(o) for p in preds),
    )


def and_(*preds: Predicate) -> Predicate:
    """Passes when every predicate passes."""
    return Predicate(
        create=lambda o: all(p.create(o) for p in preds),
        update=lambda o, n: all(p.update(o, n) for p in preds),
        delete=lambda o: all(p.delete(o) for p in preds),
    )


def not_(pred: Predicate) -> Predicate:
    """Passes when `pred` does not."""
    return Predicate(
        create=lambda o: not pred.create(o),
        update=lambda o, n: not pred.update(o, n),
        delete=lambda o: not pred.delete(o),
    )


# The primary-object filter recommended in CONTROLLER-DESIGN.md §3.3.
spec_or_metadata_changed = or_(
    generation_changed, labels_changed, annotations_changed, finalizers_changed, deleting
)
