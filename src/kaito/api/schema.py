"""Building blocks that put CRD schema facts on the API types themselves.

The types in this package are the single source of truth for both Python decoding and the CRD
OpenAPI schema (rendered by `kaito.api.crds`). Constraints msgspec understands (pattern, bounds)
are written with `msgspec.Meta`, so Python decoding checks them too; facts only the apiserver
understands (CEL rules, list types, descriptions) ride in `extra_json_schema`.

Patterns are anchored and use only RE2 syntax, so Python's `re` and the apiserver agree.
"""

from __future__ import annotations

from typing import Any

import msgspec

# DNS-1123 label (Service and Workspace names) and subdomain (Secret, ConfigMap, Node names).
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A container image reference: registry[:port]/path[:tag][@sha256:digest]. Deliberately more lenient
# than the distribution grammar about case, because KAITO's own examples (and the seed) use
# placeholders such as "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1"; a scheme, spaces, empty
# tags and stray colons are refused.
_IMAGE_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*(:[0-9]+)?(/[A-Za-z0-9][A-Za-z0-9._-]*)*"
_TAG = r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
IMAGE_REF = rf"^{_IMAGE_NAME}({_TAG})?(@sha256:[a-f0-9]{{64}})?$"
# A push target must name its tag: the adapter is pushed as that tag.
IMAGE_REF_WITH_TAG = rf"^{_IMAGE_NAME}{_TAG}$"
HTTP_URL = r"^https?://[^\s/?#]+[^\s]*$"
# A label value: empty, or 63 characters of alphanumerics, '-', '_' and '.', alphanumeric at both ends.
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
# A qualified label key: an optional DNS-subdomain prefix and '/', then a name of up to 63 characters.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)

MAX_NAME = 253
MAX_LABEL = 63
MAX_IMAGE = 512
MAX_URL = 2048


def rule(
    expr: str,
    message: str,
    *,
    field_path: str | None = None,
    reason: str | None = None,
    message_expression: str | None = None,
) -> dict[str, str]:
    """One CEL `x-kubernetes-validations` entry; the message should name the field and the reason."""
    out: dict[str, str] = {"rule": expr, "message": message}
    if message_expression is not None:
        out["messageExpression"] = message_expression
    if field_path is not None:
        out["fieldPath"] = field_path
    if reason is not None:
        out["reason"] = reason
    return out


def immutable(field: str) -> dict[str, str]:
    """A transition rule that refuses any change to a field once it is set."""
    return rule("self == oldSelf", f"{field} is immutable", reason="FieldValueForbidden")


def crd(
    description: str | None = None,
    *,
    rules: list[dict[str, str]] | None = None,
    **extra: Any,
) -> msgspec.Meta:
    """A `msgspec.Meta` carrying CRD-only facts: description, CEL rules, list-type hints, etc.

    Extra keyword names are written as given, e.g. `**{"x-kubernetes-list-type": "map"}`.
    """
    schema: dict[str, Any] = {}
    if description is not None:
        schema["description"] = description
    if rules:
        schema["x-kubernetes-validations"] = rules
    schema.update(extra)
    return msgspec.Meta(extra_json_schema=schema)
