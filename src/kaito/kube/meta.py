"""Object metadata shared by every Kubernetes kind: ObjectMeta, owner references, list metadata,
conditions and the API's Status error body, as msgspec Structs.

Pure types with no I/O, so that `kaito.api` may build its kinds on them (the one import of
`kaito.kube` the layering allows). Field names are snake_case in Python and camelCase on the wire.
Unknown fields, managedFields among them, are dropped on decode: never write a decoded object back
whole (see CONTROLLER-DESIGN.md §6.4).
"""

from __future__ import annotations

import msgspec


class OwnerReference(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A pointer from a dependent object to its owner, used for garbage collection and watches."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """The metadata every persisted object carries."""

    name: str = ""
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None


class ListMeta(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """The metadata of a list response: its resourceVersion and the token for the next page."""

    resource_version: str | None = None
    continue_: str | None = msgspec.field(default=None, name="continue")
    remaining_item_count: int | None = None


class Condition(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A metav1.Condition: one observed aspect of an object's state."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class StatusCause(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One reason an API request failed, often naming the offending field."""

    reason: str | None = None
    message: str | None = None
    field: str | None = None


class StatusDetails(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Details of a failed API request: the object it concerned, causes and a retry hint."""

    name: str | None = None
    group: str | None = None
    kind: str | None = None
    uid: str | None = None
    causes: list[StatusCause] | None = None
    retry_after_seconds: int | None = None


class Status(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """The body the API server returns with an error (and in watch ERROR events)."""

    kind: str = "Status"
    api_version: str = "v1"
    status: str | None = None
    message: str | None = None
    reason: str | None = None
    code: int | None = None
    details: StatusDetails | None = None
