"""Render CustomResourceDefinitions (apiextensions.k8s.io/v1) from the API types.

A structural OpenAPI v3 schema is derived from each msgspec Struct with `msgspec.inspect`: field names
as encoded, `required` from fields without defaults, `default` from scalar defaults, bounds and
patterns from `msgspec.Meta`, CEL rules from a Struct's `crd_rules` class variable and from
`kaito.api.schema.crd(...)` annotations. Free-form fields (`dict[str, Any]`) keep unknown fields.
The CRD envelopes (names, printer columns, scope) are declared here beside the renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from kaito.api import conditions as cond
from kaito.api import machine, workspace

Schema = dict[str, Any]


class SchemaError(TypeError):
    """A type that has no structural-schema rendering."""


def _scalar_default(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and value is not None


def _first_line(doc: str | None) -> str | None:
    if not doc:
        return None
    return " ".join(doc.strip().split("\n\n")[0].split())


def type_schema(t: mi.Type) -> Schema:
    """The structural schema of one msgspec type."""
    if isinstance(t, mi.Metadata):
        out = type_schema(t.type)
        extra = dict(t.extra_json_schema or {})
        rules = extra.pop("x-kubernetes-validations", [])
        if rules:
            out["x-kubernetes-validations"] = [*out.get("x-kubernetes-validations", []), *rules]
        out.update(extra)
        return out
    if isinstance(t, mi.UnionType):
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        if len(members) == 1:
            return type_schema(members[0])
        kinds = {type(_unwrap(m)) for m in members}
        if kinds == {mi.IntType, mi.StrType}:
            return {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}
        raise SchemaError(f"unsupported union {t}")
    if isinstance(t, mi.StrType):
        out = {"type": "string"}
        _put(out, "pattern", t.pattern)
        _put(out, "minLength", t.min_length)
        _put(out, "maxLength", t.max_length)
        return out
    if isinstance(t, mi.IntType):
        out = {"type": "integer", "format": "int64"}
        _put(out, "minimum", t.ge)
        _put(out, "maximum", t.le)
        return out
    if isinstance(t, mi.FloatType):
        return {"type": "number"}
    if isinstance(t, mi.BoolType):
        return {"type": "boolean"}
    if isinstance(t, mi.LiteralType):
        return {"type": "string", "enum": list(t.values)}
    if isinstance(t, mi.ListType):
        out = {"type": "array", "items": type_schema(t.item_type)}
        _put(out, "minItems", t.min_length)
        _put(out, "maxItems", t.max_length)
        return out
    if isinstance(t, mi.DictType):
        if isinstance(t.value_type, mi.AnyType):
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        out = {"type": "object", "additionalProperties": type_schema(t.value_type)}
        _put(out, "minProperties", t.min_length)
        _put(out, "maxProperties", t.max_length)
        return out
    if isinstance(t, mi.StructType):
        return struct_schema(t)
    if isinstance(t, mi.AnyType):
        return {"x-kubernetes-preserve-unknown-fields": True}
    raise SchemaError(f"unsupported type {t}")


def _unwrap(t: mi.Type) -> mi.Type:
    return _unwrap(t.type) if isinstance(t, mi.Metadata) else t


def _put(out: Schema, key: str, value: object) -> None:
    if value is not None:
        out[key] = value


def struct_schema(t: mi.StructType, *, skip: Sequence[str] = ()) -> Schema:
    """The schema of a Struct: properties, required, defaults, description and class-level CEL rules."""
    props: Schema = {}
    required: list[str] = []
    for field in t.fields:
        if field.encode_name in skip:
            continue
        prop = type_schema(field.type)
        if field.required:
            required.append(field.encode_name)
        elif _scalar_default(field.default):
            prop["default"] = field.default
        props[field.encode_name] = prop
    out: Schema = {"type": "object"}
    _put(out, "description", _first_line(t.cls.__doc__))
    out["properties"] = props
    if required:
        out["required"] = required
    rules = getattr(t.cls, "crd_rules", None)
    if rules:
        out["x-kubernetes-validations"] = list(rules)
    return out


def root_schema(cls: type[msgspec.Struct]) -> Schema:
    """The openAPIV3Schema of a kind: apiVersion, kind and metadata as every CRD declares them."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    out = struct_schema(info, skip=("apiVersion", "kind", "metadata"))
    out["properties"] = {
        "apiVersion": {"type": "string", "description": "The versioned schema of this representation."},
        "kind": {"type": "string", "description": "The REST resource this object represents."},
        "metadata": {"type": "object"},
        **out["properties"],
    }
    return out


class Column(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """One additionalPrinterColumn of `kubectl get`."""

    name: str
    type: str
    json_path: str = msgspec.field(name="jsonPath")
    priority: int = 0
    description: str | None = None


def _condition_column(name: str, type_: str, priority: int = 0) -> Column:
    return Column(
        name=name,
        type="string",
        json_path=f'.status.conditions[?(@.type=="{type_}")].status',
        priority=priority,
        description=f"Status of the {type_} condition",
    )


AGE: Final = Column(name="Age", type="date", json_path=".metadata.creationTimestamp")

WORKSPACE_COLUMNS: Final = (
    Column(
        name="Instance", type="string", json_path=".resource.instanceType", description="GPU instance type"
    ),
    _condition_column("ResourceReady", cond.RESOURCE_READY),
    _condition_column("InferenceReady", cond.INFERENCE_READY),
    _condition_column("JobStarted", cond.JOB_STARTED, priority=1),
    _condition_column("WorkspaceSucceeded", cond.WORKSPACE_SUCCEEDED, priority=1),
    _condition_column("WorkspaceReady", cond.WORKSPACE_READY),
    AGE,
)

MACHINE_COLUMNS: Final = (
    Column(
        name="Type",
        type="string",
        json_path='.spec.requirements[?(@.key=="node.kubernetes.io/instance-type")].values[0]',
    ),
    Column(name="Zone", type="string", json_path=".metadata.labels.topology\\.kubernetes\\.io/zone"),
    Column(name="Node", type="string", json_path=".status.nodeName"),
    _condition_column("Ready", cond.MACHINE_READY_CONDITION),
    AGE,
    Column(name="Workspace", type="string", json_path=".metadata.labels.kaito\\.sh/workspace", priority=1),
    Column(name="ProviderID", type="string", json_path=".status.providerID", priority=1),
)


def _crd(
    *,
    group: str,
    version: str,
    kind: str,
    plural: str,
    scope: str,
    schema: Schema,
    columns: Sequence[Column],
    short_names: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> dict[str, Any]:
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": names,
            "scope": scope,
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": msgspec.to_builtins(list(columns)),
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                }
            ],
        },
    }


def workspace_crd(preset_names: Sequence[str] = (), tunable_presets: Sequence[str] = ()) -> dict[str, Any]:
    """The Workspace CRD. Given the preset registry's names, preset names are checked in the apiserver:
    inference.preset.name against all presets, tuning.preset.name against those that support tuning."""
    schema = root_schema(workspace.Workspace)
    props = schema["properties"]
    # resource is required: every workspace needs nodes, and labelSelector inside it is required.
    schema["required"] = sorted({*schema.get("required", []), "resource"})
    if preset_names:
        name = props["inference"]["properties"]["preset"]["properties"]["name"]
        name["enum"] = list(preset_names)
    if tunable_presets:
        allowed = ", ".join(f"'{n}'" for n in tunable_presets)
        props["tuning"].setdefault("x-kubernetes-validations", []).append(
            {
                "rule": f"self.preset.name in [{allowed}]",
                "messageExpression": (
                    "self.preset.name + ' does not support tuning; presets that do: "
                    + ", ".join(tunable_presets)
                    + "'"
                ),
                "fieldPath": ".preset.name",
                "reason": "FieldValueInvalid",
            }
        )
    return _crd(
        group=workspace.GROUP,
        version=workspace.VERSION,
        kind=workspace.KIND,
        plural=workspace.PLURAL,
        scope="Namespaced",
        schema=schema,
        columns=WORKSPACE_COLUMNS,
        short_names=("wk", "wks"),
        categories=("workspace", "kaito"),
    )


def machine_crd() -> dict[str, Any]:
    """The Machine CRD (karpenter.sh/v1alpha5), cluster-scoped, as Karpenter-core shipped it."""
    return _crd(
        group=machine.GROUP,
        version=machine.VERSION,
        kind=machine.KIND,
        plural=machine.PLURAL,
        scope="Cluster",
        schema=root_schema(machine.Machine),
        columns=MACHINE_COLUMNS,
        categories=("karpenter", "kaito"),
    )
