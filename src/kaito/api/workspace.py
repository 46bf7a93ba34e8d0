"""Workspace, kaito.sh/v1alpha1: KAITO's v1alpha1 shape (resource, inference, tuning and status at the
top level of the object, no `spec:`), with defaults, bounds, patterns and the cross-field CEL rules
that the CRD rendered from these types enforces in the apiserver.

Mirrors `api/v1alpha1/workspace_types.go@v0.3.0` and its validation webhook
(`workspace_validation.go@v0.3.0`); where KAITO checked a rule in a webhook, it is a CEL rule here.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

import msgspec

from kaito.api.core import LabelSelector
from kaito.api.labels import RESERVED_LABEL_PREFIXES
from kaito.api.schema import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    HTTP_URL,
    IMAGE_REF,
    IMAGE_REF_WITH_TAG,
    MAX_IMAGE,
    MAX_NAME,
    MAX_URL,
    crd,
    immutable,
    rule,
)
from kaito.kube.meta import Condition, ObjectMeta

GROUP: Final = "kaito.sh"
VERSION: Final = "v1alpha1"
API_VERSION: Final = "kaito.sh/v1alpha1"
KIND: Final = "Workspace"
PLURAL: Final = "workspaces"

DEFAULT_INSTANCE_TYPE: Final = "Standard_NC12s_v3"  # KAITO v0.1-v0.4.1 default (KAITO-REFERENCE §1.2)
MAX_ADAPTERS: Final = 10

Name = Annotated[str, msgspec.Meta(pattern=DNS_SUBDOMAIN, min_length=1, max_length=MAX_NAME)]
Image = Annotated[str, msgspec.Meta(pattern=IMAGE_REF, max_length=MAX_IMAGE)]
# The secret holding push credentials. Looser than a DNS subdomain on purpose: the seed's example
# (KAITO's own docs) uses the placeholder "ACR_REGISTRY_SECRET_HERE" and must be accepted as written;
# a name that is not a real Secret surfaces as a missing-secret condition when the job is created.
SecretRef = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", max_length=MAX_NAME)
]
SecretNames = Annotated[list[Name], msgspec.Meta(max_length=16)]
HttpUrl = Annotated[
    str,
    msgspec.Meta(pattern=HTTP_URL, max_length=MAX_URL),
    crd(
        rules=[
            rule(
                "!url(self).getHostname().startsWith('169.254.')",
                "urls must not point at link-local addresses (169.254.0.0/16, the cloud metadata service)",
            )
        ]
    ),
]
# A VolumeSource (core/v1), kept as given: the apiserver validates it when the pod is created.
VolumeSource = Annotated[
    dict[str, Any], crd("A core/v1 VolumeSource, e.g. persistentVolumeClaim or emptyDir.")
]

# KAITO v0.3 accepts an instance type outside its SKU table only if it starts with Standard_N or Standard_D.
_INSTANCE_TYPE = r"^Standard_[ND][A-Za-z0-9_]*$"


class PresetOptions(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Where a private preset's image comes from."""

    image: Image | None = None
    image_pull_secrets: SecretNames | None = None


class PresetSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A model from the preset registry, by name."""

    crd_rules: ClassVar[list[dict[str, str]]] = [
        rule(
            "self.accessMode != 'private' || (has(self.presetOptions) && has(self.presetOptions.image))",
            "presetOptions.image is required when accessMode is private",
            field_path=".presetOptions.image",
            reason="FieldValueRequired",
        )
    ]

    name: Annotated[str, msgspec.Meta(pattern=DNS_SUBDOMAIN, min_length=1, max_length=MAX_NAME)]
    access_mode: Literal["public", "private"] = "public"
    preset_options: PresetOptions | None = None


class DataSource(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Where data comes from: http(s) URLs, an image holding it under /data, or a volume."""

    name: Name | None = None
    urls: Annotated[list[HttpUrl], msgspec.Meta(min_length=1, max_length=100)] | None = None
    image: Image | None = None
    image_pull_secrets: SecretNames | None = None
    volume_source: VolumeSource | None = None


class DataDestination(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Where a tuning job delivers its adapter: an image pushed with a secret, and/or a volume."""

    crd_rules: ClassVar[list[dict[str, str]]] = [
        rule(
            "has(self.image) || has(self.volumeSource)",
            "output needs an image or a volumeSource",
            reason="FieldValueRequired",
        ),
        rule(
            "!has(self.image) || has(self.imagePushSecret)",
            "imagePushSecret is required when output.image is set",
            field_path=".imagePushSecret",
            reason="FieldValueRequired",
        ),
    ]

    volume_source: VolumeSource | None = None
    image: Annotated[str, msgspec.Meta(pattern=IMAGE_REF_WITH_TAG, max_length=MAX_IMAGE)] | None = None
    image_push_secret: SecretRef | None = None


class AdapterSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A LoRA adapter loaded beside the preset, with its strength."""

    crd_rules: ClassVar[list[dict[str, str]]] = [
        rule("has(self.source.name)", "adapter source.name is required", field_path=".source.name"),
        rule(
            "has(self.source.image) || has(self.source.volumeSource)",
            "adapter source needs an image or a volumeSource",
            field_path=".source",
        ),
        rule("!has(self.source.urls)", "adapter source may not use urls", field_path=".source.urls"),
    ]

    source: DataSource
    strength: (
        Annotated[
            str,
            msgspec.Meta(pattern=r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$", max_length=8),
            crd("A decimal between 0 and 1, as a string."),
        ]
        | None
    ) = "1.0"


_ADAPTER_NAMES_UNIQUE = rule(
    "self.all(a, !has(a.source.name) || "
    "self.exists_one(b, has(b.source.name) && b.source.name == a.source.name))",
    "adapters must have unique source names",
)


class InferenceSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Serve a preset model, or run a custom pod template, on the workspace's nodes."""

    crd_rules: ClassVar[list[dict[str, str]]] = [
        rule(
            "has(self.preset) != has(self.template)", "exactly one of inference.preset or inference.template"
        ),
        rule(
            "has(self.template) == has(oldSelf.template)",
            "inference.template cannot be set or unset after creation",
            field_path=".template",
        ),
        rule(
            "!has(self.adapters) || has(self.preset)",
            "adapters need inference.preset",
            field_path=".adapters",
        ),
    ]

    preset: Annotated[PresetSpec, crd(rules=[immutable("inference.preset")])] | None = None
    template: Annotated[dict[str, Any], crd("A core/v1 PodTemplateSpec, used as given.")] | None = None
    adapters: (
        Annotated[
            list[AdapterSpec], msgspec.Meta(max_length=MAX_ADAPTERS), crd(rules=[_ADAPTER_NAMES_UNIQUE])
        ]
        | None
    ) = None


_ONE_INPUT = rule(
    "(has(self.urls) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.volumeSource) ? 1 : 0) == 1",
    "tuning.input needs exactly one of urls, image or volumeSource",
)


class TuningSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """Fine-tune a preset with LoRA or QLoRA on input data, delivering the adapter to output."""

    preset: Annotated[PresetSpec, crd(rules=[immutable("tuning.preset")])]
    method: Annotated[Literal["lora", "qlora"], crd(rules=[immutable("tuning.method")])] = "lora"
    config: (
        Annotated[Name, crd("Name of a ConfigMap (same namespace) with key training_config.yaml.")] | None
    ) = None
    input: Annotated[DataSource, crd(rules=[_ONE_INPUT])]
    output: DataDestination


_RESERVED_KEYS = ", ".join(f"'{p}'" for p in RESERVED_LABEL_PREFIXES)


class ResourceSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """The GPU nodes a workspace runs on: how many, which instance type, and how to select them."""

    count: Annotated[int, msgspec.Meta(ge=1, le=64), crd(rules=[immutable("resource.count")])] = 1
    instance_type: Annotated[
        str,
        msgspec.Meta(pattern=_INSTANCE_TYPE, max_length=64),
        crd(rules=[immutable("resource.instanceType")]),
    ] = DEFAULT_INSTANCE_TYPE
    label_selector: Annotated[
        LabelSelector,
        crd(
            rules=[
                immutable("resource.labelSelector"),
                rule(
                    "has(self.matchLabels) && size(self.matchLabels) > 0",
                    "resource.labelSelector.matchLabels must name at least one label: Kaito puts them on the "
                    "nodes it creates",
                    field_path=".matchLabels",
                    reason="FieldValueRequired",
                ),
                rule(
                    f"!has(self.matchLabels) || !self.matchLabels.exists(k, [{_RESERVED_KEYS}].exists(p, "
                    "k.startsWith(p)))",
                    "resource.labelSelector.matchLabels may not use keys reserved for Kaito "
                    f"({', '.join(RESERVED_LABEL_PREFIXES)}*)",
                    field_path=".matchLabels",
                ),
            ]
        ),
    ]
    preferred_nodes: Annotated[list[Name], msgspec.Meta(max_length=64)] | None = None


class TuningProgress(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """How far a tuning job has come, as its progress file last reported."""

    phase: Literal["Pending", "Downloading", "Training", "Pushing", "Succeeded", "Failed"] | None = None
    step: Annotated[int, msgspec.Meta(ge=0)] | None = None
    max_steps: Annotated[int, msgspec.Meta(ge=0)] | None = None
    epoch: float | None = None
    loss: float | None = None
    eta_seconds: Annotated[int, msgspec.Meta(ge=0)] | None = None
    started_time: str | None = None
    completion_time: str | None = None
    adapter_image: str | None = None
    message: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


class WorkspaceStatus(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """What the controller observed: the nodes in use, conditions and tuning progress."""

    worker_nodes: Annotated[list[str], msgspec.Meta(max_length=256)] | None = None
    conditions: (
        Annotated[
            list[Condition],
            msgspec.Meta(max_length=32),
            crd(**{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}),
        ]
        | None
    ) = None
    observed_generation: int | None = None
    target_node_count: int | None = None
    tuning: TuningProgress | None = None


class Workspace(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A Kaito workspace: GPU nodes plus either a served model (inference) or a fine-tuning job."""

    crd_rules: ClassVar[list[dict[str, str]]] = [
        rule(
            "has(self.inference) != has(self.tuning)",
            "exactly one of inference or tuning must be set",
            reason="FieldValueRequired",
        ),
        rule(
            "!has(self.tuning) || self.resource.count <= 1",
            "resource.count must be 1 for tuning: tuning does not support multiple nodes",
            field_path=".resource.count",
        ),
        rule(
            f"size(self.metadata.name) <= 63 && self.metadata.name.matches(r'{DNS_LABEL}')",
            "metadata.name must be a DNS-1123 label of at most 63 characters: "
            "it names the workspace's Service",
        ),
        rule(
            "has(self.inference) == has(oldSelf.inference)",
            "a workspace cannot switch between inference and tuning after creation",
        ),
    ]

    # Required (no defaults) so that encoding always writes them, omit_defaults notwithstanding.
    api_version: Literal["kaito.sh/v1alpha1"]
    kind: Literal["Workspace"]
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    resource: ResourceSpec
    inference: InferenceSpec | None = None
    tuning: TuningSpec | None = None
    status: WorkspaceStatus | None = None


WORKSPACE_DECODER: Final = msgspec.json.Decoder(Workspace)


def new_workspace(
    name: str,
    namespace: str,
    resource: ResourceSpec,
    *,
    inference: InferenceSpec | None = None,
    tuning: TuningSpec | None = None,
) -> Workspace:
    """A Workspace with apiVersion and kind filled in."""
    return Workspace(
        api_version=API_VERSION,
        kind=KIND,
        metadata=ObjectMeta(name=name, namespace=namespace),
        resource=resource,
        inference=inference,
        tuning=tuning,
    )
