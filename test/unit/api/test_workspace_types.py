"""Workspace types: defaults, the seed's shape, wire names and client-side constraints."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import msgspec.yaml
import pytest

from kaito.api.core import LabelSelector, LabelSelectorRequirement
from kaito.api.workspace import (
    DEFAULT_INSTANCE_TYPE,
    DataDestination,
    DataSource,
    InferenceSpec,
    PresetSpec,
    ResourceSpec,
    TuningSpec,
    Workspace,
    new_workspace,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))
SEED = ROOT / "deploy" / "examples" / "kaito_workspace_tuning_phi_3.yaml"


def _decode(text: str) -> Workspace:
    return msgspec.yaml.decode(text.encode(), type=Workspace)


def test_the_seed_example_decodes_with_spec_fields_at_the_top_level() -> None:
    ws = _decode(SEED.read_text())
    assert ws.metadata.name == "workspace-tuning-phi-3"
    assert ws.resource.instance_type == "Standard_NC6s_v3"
    assert ws.resource.label_selector.match_labels == {"app": "tuning-phi-3"}
    assert ws.tuning is not None and ws.inference is None
    assert ws.tuning.preset.name == "phi-3-mini-128k-instruct"
    assert ws.tuning.method == "qlora"
    assert ws.tuning.input.urls is not None and ws.tuning.input.urls[0].startswith("https://huggingface.co/")
    assert ws.tuning.output.image == "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1"
    assert ws.tuning.output.image_push_secret == "ACR_REGISTRY_SECRET_HERE"


def test_the_seed_example_is_kept_exactly_as_the_cookbook_wrote_it() -> None:
    text = SEED.read_text()
    assert "spec:" not in text
    assert 'image: "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1" # Tuning Output ACR Path' in text


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_decodes_as_a_workspace(path: Path) -> None:
    ws = _decode(path.read_text())
    assert (ws.inference is None) != (ws.tuning is None)


def test_resource_defaults_to_one_node_of_the_kaito_v0_3_default_instance_type() -> None:
    res = msgspec.convert({"labelSelector": {"matchLabels": {"a": "b"}}}, ResourceSpec)
    assert res.count == 1
    assert res.instance_type == DEFAULT_INSTANCE_TYPE == "Standard_NC12s_v3"


def test_preset_access_mode_defaults_to_public_and_tuning_method_to_lora() -> None:
    assert msgspec.convert({"name": "phi-4"}, PresetSpec).access_mode == "public"
    tuning = msgspec.convert(
        {"preset": {"name": "phi-4"}, "input": {"urls": ["https://x/y"]}, "output": {"volumeSource": {}}},
        TuningSpec,
    )
    assert tuning.method == "lora"


def test_adapter_strength_defaults_to_one() -> None:
    inf = msgspec.convert(
        {"preset": {"name": "phi-4"}, "adapters": [{"source": {"name": "a", "image": "x/y:1"}}]},
        InferenceSpec,
    )
    assert inf.adapters is not None and inf.adapters[0].strength == "1.0"


def test_encoding_uses_camel_case_names_and_always_writes_api_version_and_kind() -> None:
    ws = new_workspace(
        "w",
        "ns",
        ResourceSpec(label_selector=LabelSelector(match_labels={"a": "b"})),
        inference=InferenceSpec(preset=PresetSpec(name="phi-4")),
    )
    wire = msgspec.to_builtins(ws)
    assert wire["apiVersion"] == "kaito.sh/v1alpha1"
    assert wire["kind"] == "Workspace"
    assert wire["resource"] == {"labelSelector": {"matchLabels": {"a": "b"}}}
    assert "tuning" not in wire and "status" not in wire
    assert msgspec.json.decode(msgspec.json.encode(ws), type=Workspace) == ws


def test_template_is_preserved_as_given() -> None:
    template = {
        "metadata": {"labels": {"x": "y"}},
        "spec": {"containers": [{"name": "c", "image": "i", "extra": 1}]},
    }
    inf = msgspec.convert({"template": template}, InferenceSpec)
    assert msgspec.to_builtins(inf)["template"] == template


@pytest.mark.parametrize(
    ("doc", "type_", "field"),
    [
        ({"labelSelector": {}, "count": 0}, ResourceSpec, "$.count"),
        ({"labelSelector": {}, "instanceType": "m5.large"}, ResourceSpec, "$.instanceType"),
        ({"count": 1}, ResourceSpec, "field `labelSelector`"),
        ({"name": "phi-4", "accessMode": "secret"}, PresetSpec, "$.accessMode"),
        ({"urls": ["ftp://host/file"]}, DataSource, "$.urls[0]"),
        ({"image": "http://registry/x:1"}, DataSource, "$.image"),
        ({"image": "registry/x", "imagePushSecret": "s"}, DataDestination, "$.image"),
        ({"imagePullSecrets": ["Not_A_Name"]}, DataSource, "$.imagePullSecrets[0]"),
    ],
)
def test_python_decoding_checks_the_same_patterns_and_bounds_and_names_the_field(
    doc: dict[str, object], type_: type, field: str
) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(field)):
        msgspec.convert(doc, type_)


def test_label_selector_matches_labels_and_expressions() -> None:
    sel = LabelSelector(
        match_labels={"app": "x"},
        match_expressions=[
            LabelSelectorRequirement(key="tier", operator="In", values=["gpu"]),
            LabelSelectorRequirement(key="spot", operator="DoesNotExist"),
        ],
    )
    assert sel.matches({"app": "x", "tier": "gpu"})
    assert not sel.matches({"app": "x", "tier": "cpu"})
    assert not sel.matches({"app": "x", "tier": "gpu", "spot": "1"})
    assert not sel.matches({"tier": "gpu"})
    assert LabelSelector(
        match_expressions=[LabelSelectorRequirement(key="k", operator="NotIn", values=["v"])]
    ).matches({})
    assert LabelSelector(match_expressions=[LabelSelectorRequirement(key="k", operator="Exists")]).matches(
        {"k": ""}
    )
