"""The Kubernetes core/meta v1 shapes that Workspace and Machine embed: LabelSelector, node selector
requirements, taints and resource quantities, with the apiserver's own limits as constraints."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from kaito.api.schema import LABEL_KEY, LABEL_VALUE, MAX_LABEL, MAX_NAME, crd, rule

LabelKey = Annotated[str, msgspec.Meta(pattern=LABEL_KEY, min_length=1, max_length=317)]
LabelValue = Annotated[str, msgspec.Meta(pattern=LABEL_VALUE, max_length=MAX_LABEL)]
# A resource.Quantity: the apiserver accepts an integer or a string such as "100Gi" or "500m".
Quantity = Annotated[
    int | str,
    crd(
        pattern=r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
    ),
]
ResourceList = Annotated[dict[str, Quantity], msgspec.Meta(max_length=32)]

_LABEL_KEY_RULE = rule(
    f"self.all(k, size(k) <= 317 && k.matches(r'{LABEL_KEY}'))",
    "label keys must be qualified names: an optional DNS-subdomain prefix and '/', then up to 63 "
    "alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
)


class LabelSelectorRequirement(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A label selector requirement: a key, an operator and (for In/NotIn) values."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=317)]
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: Annotated[list[LabelValue], msgspec.Meta(max_length=64)] | None = None


class LabelSelector(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A standard metav1.LabelSelector: matchLabels and matchExpressions are ANDed."""

    match_labels: (
        Annotated[
            dict[str, Annotated[str, msgspec.Meta(pattern=LABEL_VALUE, max_length=MAX_LABEL)]],
            msgspec.Meta(max_length=64),
            crd(rules=[_LABEL_KEY_RULE]),
        ]
        | None
    ) = None
    match_expressions: Annotated[list[LabelSelectorRequirement], msgspec.Meta(max_length=32)] | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a set of labels satisfies this selector (metav1.LabelSelectorAsSelector semantics)."""
        for key, value in (self.match_labels or {}).items():
            if labels.get(key) != value:
                return False
        for req in self.match_expressions or []:
            present = req.key in labels
            values = req.values or []
            if req.operator == "In" and not (present and labels[req.key] in values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


class NodeSelectorRequirement(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A node selector requirement (core/v1): a label key, an operator and values."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=317)]
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: (
        Annotated[list[Annotated[str, msgspec.Meta(max_length=MAX_NAME)]], msgspec.Meta(max_length=64)] | None
    ) = None


class Taint(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A node taint (core/v1): pods without a matching toleration are kept off (NoSchedule) or out."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=317)]
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
    value: Annotated[str, msgspec.Meta(max_length=MAX_LABEL)] | None = None
    time_added: str | None = None
