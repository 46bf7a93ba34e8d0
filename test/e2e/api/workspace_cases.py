# ruff: noqa: E501  (one case per line keeps the table readable as documentation)
"""Workspaces the apiserver must refuse, one per rule, as a readable table.

Each case starts from a valid Workspace (the seed's tuning example, or a Phi-3 inference one), makes
one edit, and lists the words the apiserver's refusal must contain: the field's path and the reason.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

TUNING: dict[str, Any] = {  # the seed's example (deploy/examples/kaito_workspace_tuning_phi_3.yaml)
    "apiVersion": "kaito.sh/v1alpha1",
    "kind": "Workspace",
    "metadata": {"name": "ws"},
    "resource": {
        "instanceType": "Standard_NC6s_v3",
        "labelSelector": {"matchLabels": {"app": "tuning-phi-3"}},
    },
    "tuning": {
        "preset": {"name": "phi-3-mini-128k-instruct"},
        "method": "qlora",
        "input": {"urls": ["https://huggingface.co/datasets/x/resolve/main/train.parquet?download=true"]},
        "output": {
            "image": "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1",
            "imagePushSecret": "ACR_SECRET",
        },
    },
}
INFERENCE: dict[str, Any] = {
    "apiVersion": "kaito.sh/v1alpha1",
    "kind": "Workspace",
    "metadata": {"name": "ws"},
    "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"apps": "phi-3"}}},
    "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
}
ADAPTER = {"source": {"name": "a1", "image": "registry.example.com/adapters/a1:1"}, "strength": "0.5"}
TEMPLATE = {"spec": {"containers": [{"name": "c", "image": "registry.example.com/llm:1"}]}}
DROP = object()


def edit(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of base with dotted paths (written with '__' for '.') set, or removed when DROP."""
    doc = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
        if value is DROP:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return doc


@dataclass
class Case:
    """One invalid Workspace and what its refusal must say."""

    id: str
    doc: dict[str, Any]
    expect: list[str] = field(default_factory=list)


INVALID: list[Case] = [
    # --- the object as a whole -------------------------------------------------------------------
    Case("neither inference nor tuning", edit(TUNING, tuning=DROP), ["exactly one of inference or tuning"]),
    Case("both inference and tuning", edit(TUNING, inference=INFERENCE["inference"]), ["exactly one of inference or tuning"]),
    Case("no resource section", edit(TUNING, resource=DROP), ["resource: Required value"]),
    Case("name not a DNS label", edit(TUNING, metadata__name="ws.with.dots"), ["metadata.name", "DNS-1123 label"]),
    Case("tuning on two nodes", edit(TUNING, resource__count=2), ["resource.count", "must be 1 for tuning"]),
    # --- resource ---------------------------------------------------------------------------------
    Case("count zero", edit(INFERENCE, resource__count=0), ["resource.count", "greater than or equal to 1"]),
    Case("count not a number", edit(INFERENCE, resource__count="two"), ["resource.count", "must be of type integer"]),
    Case("count beyond the bound", edit(INFERENCE, resource__count=65), ["resource.count", "less than or equal to 64"]),
    Case("instance type not Azure N/D", edit(INFERENCE, resource__instanceType="m5.large"), ["resource.instanceType", "should match"]),
    Case("no labelSelector", edit(INFERENCE, resource__labelSelector=DROP), ["resource.labelSelector: Required value"]),
    Case("labelSelector without matchLabels", edit(INFERENCE, resource__labelSelector={}), ["resource.labelSelector.matchLabels", "at least one label"]),
    Case("reserved label key", edit(INFERENCE, resource__labelSelector={"matchLabels": {"kaito.sh/workspace": "x"}}), ["resource.labelSelector.matchLabels", "reserved for Kaito"]),
    Case("label key not a qualified name", edit(INFERENCE, resource__labelSelector={"matchLabels": {"bad key!": "x"}}), ["resource.labelSelector.matchLabels", "qualified names"]),
    Case("label value with a space", edit(INFERENCE, resource__labelSelector={"matchLabels": {"app": "a b"}}), ["resource.labelSelector.matchLabels.app", "should match"]),
    Case("unknown selector operator", edit(INFERENCE, resource__labelSelector={"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "k", "operator": "Like"}]}), ["resource.labelSelector.matchExpressions[0].operator", "Unsupported value"]),
    Case("preferred node not a DNS name", edit(INFERENCE, resource__preferredNodes=["Node_1"]), ["resource.preferredNodes[0]", "should match"]),
    # --- inference --------------------------------------------------------------------------------
    Case("inference without preset or template", edit(INFERENCE, inference={}), ["inference", "exactly one of inference.preset or inference.template"]),
    Case("inference with preset and template", edit(INFERENCE, inference__template=TEMPLATE), ["inference", "exactly one of inference.preset or inference.template"]),
    Case("unknown preset", edit(INFERENCE, inference__preset={"name": "gpt-5"}), ["inference.preset.name", "Unsupported value", "gpt-5"]),
    Case("unknown access mode", edit(INFERENCE, inference__preset__accessMode="secret"), ["inference.preset.accessMode", "Unsupported value"]),
    Case("private preset without image", edit(INFERENCE, inference__preset__accessMode="private"), ["inference.preset.presetOptions.image", "required when accessMode is private"]),
    Case("preset image with a scheme", edit(INFERENCE, inference__preset__presetOptions={"image": "https://registry/x:1"}), ["inference.preset.presetOptions.image", "should match"]),
    Case("pull secret not a DNS name", edit(INFERENCE, inference__preset__presetOptions={"imagePullSecrets": ["My_Secret"]}), ["inference.preset.presetOptions.imagePullSecrets[0]", "should match"]),
    Case("template not an object", edit(INFERENCE, inference={"template": "pod.yaml"}), ["inference.template", "must be of type object"]),
    Case("eleven adapters", edit(INFERENCE, inference__adapters=[{"source": {"name": f"a{i}", "image": "r/a:1"}} for i in range(11)]), ["inference.adapters", "must have at most 10 items"]),
    Case("adapter strength above one", edit(INFERENCE, inference__adapters=[{**ADAPTER, "strength": "1.5"}]), ["inference.adapters[0].strength", "should match"]),
    Case("adapter from urls", edit(INFERENCE, inference__adapters=[{"source": {"name": "a", "urls": ["https://x/a"]}}]), ["inference.adapters[0].source.urls", "may not use urls"]),
    Case("adapter without a name", edit(INFERENCE, inference__adapters=[{"source": {"image": "r/a:1"}}]), ["inference.adapters[0].source.name", "is required"]),
    Case("adapters with the same name", edit(INFERENCE, inference__adapters=[ADAPTER, ADAPTER]), ["inference.adapters", "unique source names"]),
    Case("adapters on a template", edit(INFERENCE, inference={"template": TEMPLATE, "adapters": [ADAPTER]}), ["inference.adapters", "need inference.preset"]),
    # --- tuning -----------------------------------------------------------------------------------
    Case("tuning without preset", edit(TUNING, tuning__preset=DROP), ["tuning.preset: Required value"]),
    Case("tuning a preset that cannot be tuned", edit(TUNING, tuning__preset={"name": "falcon-7b-instruct"}), ["tuning.preset.name", "falcon-7b-instruct does not support tuning"]),
    Case("unknown tuning method", edit(TUNING, tuning__method="full"), ["tuning.method", "Unsupported value"]),
    Case("tuning without input", edit(TUNING, tuning__input=DROP), ["tuning.input: Required value"]),
    Case("input from urls and an image", edit(TUNING, tuning__input__image="registry/data:1"), ["tuning.input", "exactly one of urls, image or volumeSource"]),
    Case("input with no source", edit(TUNING, tuning__input={}), ["tuning.input", "exactly one of urls, image or volumeSource"]),
    Case("input url not http(s)", edit(TUNING, tuning__input__urls=["file:///etc/passwd"]), ["tuning.input.urls[0]", "should match"]),
    Case("input url at the metadata service", edit(TUNING, tuning__input__urls=["http://169.254.169.254/latest"]), ["tuning.input.urls[0]", "link-local"]),
    Case("input with an empty url list", edit(TUNING, tuning__input__urls=[]), ["tuning.input.urls", "at least 1 items"]),
    Case("output with nowhere to go", edit(TUNING, tuning__output={}), ["tuning.output", "output needs an image or a volumeSource"]),
    Case("output image without push secret", edit(TUNING, tuning__output__imagePushSecret=DROP), ["tuning.output.imagePushSecret", "required when output.image is set"]),
    Case("output image without a tag", edit(TUNING, tuning__output__image="registry.example.com/adapter"), ["tuning.output.image", "should match"]),
    Case("config not a ConfigMap name", edit(TUNING, tuning__config="My_Config"), ["tuning.config", "should match"]),
]  # fmt: skip


UPDATES: list[Case] = [
    # Updates refused after creation: (case.doc is the edited object; its base is created first.)
    Case("resource.count changed", edit(INFERENCE, resource__count=2), ["resource.count is immutable"]),
    Case("instanceType changed", edit(INFERENCE, resource__instanceType="Standard_NC12s_v3"), ["resource.instanceType is immutable"]),
    Case("labelSelector changed", edit(INFERENCE, resource__labelSelector={"matchLabels": {"apps": "other"}}), ["resource.labelSelector is immutable"]),
    Case("inference preset changed", edit(INFERENCE, inference__preset={"name": "phi-4"}), ["inference.preset is immutable"]),
    Case("inference switched to tuning", edit(TUNING, resource=INFERENCE["resource"]), ["cannot switch between inference and tuning"]),
]  # fmt: skip

TUNING_UPDATES: list[Case] = [
    Case("tuning method changed", edit(TUNING, tuning__method="lora"), ["tuning.method is immutable"]),
    Case("tuning preset changed", edit(TUNING, tuning__preset={"name": "phi-3-mini-4k-instruct"}), ["tuning.preset is immutable"]),
]  # fmt: skip
