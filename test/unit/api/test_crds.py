"""The CRDs rendered from the types: structure, defaults, rules, columns, and the generator's check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.api import crds
from kaito.presets.models import preset_names, tunable_preset_names

ROOT = Path(__file__).resolve().parents[3]
GEN = ROOT / "hack" / "gen_crds.py"


@pytest.fixture(scope="module")
def ws_crd() -> dict[str, Any]:
    return crds.workspace_crd(preset_names(), tunable_preset_names())


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _rules(node: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in node.get("x-kubernetes-validations", [])]


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, child in (node.get("properties") or {}).items():
            out += _walk(child, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            out += _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            out += _walk(node["additionalProperties"], f"{path}{{}}")
    return out


def test_deploy_crds_are_up_to_date_with_the_types() -> None:
    result = subprocess.run(
        [sys.executable, str(GEN), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_generator_check_fails_and_names_a_stale_file(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GEN), "--out-dir", str(tmp_path)], check=True, capture_output=True)
    stale = tmp_path / "kaito.sh_workspaces.yaml"
    stale.write_text(stale.read_text().replace("maxItems: 10", "maxItems: 11"))
    result = subprocess.run(
        [sys.executable, str(GEN), "--check", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "kaito.sh_workspaces.yaml" in result.stderr
    assert "karpenter.sh_machines.yaml" not in result.stderr


def test_workspace_crd_names_scope_and_status_subresource(ws_crd: dict[str, Any]) -> None:
    spec = ws_crd["spec"]
    assert ws_crd["metadata"]["name"] == "workspaces.kaito.sh"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["wk", "wks"]
    assert spec["names"]["categories"] == ["workspace", "kaito"]
    version = spec["versions"][0]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_spec_sections_sit_at_the_top_level_and_resource_is_required(ws_crd: dict[str, Any]) -> None:
    root = _schema(ws_crd)
    assert {"resource", "inference", "tuning", "status"} <= set(root["properties"])
    assert "spec" not in root["properties"]
    assert root["required"] == ["resource"]
    assert "has(self.inference) != has(self.tuning)" in _rules(root)


def test_printer_columns_are_kaitos(ws_crd: dict[str, Any]) -> None:
    cols = ws_crd["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"].upper() for c in cols] == [
        "INSTANCE",
        "RESOURCEREADY",
        "INFERENCEREADY",
        "JOBSTARTED",
        "WORKSPACESUCCEEDED",
        "WORKSPACEREADY",
        "AGE",
    ]
    default_view = [c["name"].upper() for c in cols if c.get("priority", 0) == 0]
    assert default_view == ["INSTANCE", "RESOURCEREADY", "INFERENCEREADY", "WORKSPACEREADY", "AGE"]
    assert cols[1]["jsonPath"] == '.status.conditions[?(@.type=="ResourceReady")].status'


def test_defaults_come_from_the_types(ws_crd: dict[str, Any]) -> None:
    p = _schema(ws_crd)["properties"]
    res = p["resource"]["properties"]
    assert res["count"]["default"] == 1 and res["count"]["minimum"] == 1
    assert res["instanceType"]["default"] == "Standard_NC12s_v3"
    assert p["resource"]["required"] == ["labelSelector"]
    preset = p["inference"]["properties"]["preset"]["properties"]
    assert preset["accessMode"] == {"type": "string", "enum": ["private", "public"], "default": "public"}
    assert p["tuning"]["properties"]["method"]["default"] == "lora"
    assert p["inference"]["properties"]["adapters"]["items"]["properties"]["strength"]["default"] == "1.0"


def test_preset_names_are_checked_against_the_registry(ws_crd: dict[str, Any]) -> None:
    p = _schema(ws_crd)["properties"]
    assert p["inference"]["properties"]["preset"]["properties"]["name"]["enum"] == preset_names()
    tuning_rule = p["tuning"]["x-kubernetes-validations"][-1]
    assert "'phi-3-mini-128k-instruct'" in tuning_rule["rule"]
    assert "'falcon-7b-instruct'" not in tuning_rule["rule"]


def test_free_form_fields_preserve_unknown_fields(ws_crd: dict[str, Any]) -> None:
    p = _schema(ws_crd)["properties"]
    assert p["inference"]["properties"]["template"]["x-kubernetes-preserve-unknown-fields"] is True
    assert p["tuning"]["properties"]["output"]["properties"]["volumeSource"][
        "x-kubernetes-preserve-unknown-fields"
    ]


def test_cross_field_rules_are_declared_where_they_apply(ws_crd: dict[str, Any]) -> None:
    p = _schema(ws_crd)["properties"]
    assert "has(self.preset) != has(self.template)" in _rules(p["inference"])
    out = _rules(p["tuning"]["properties"]["output"])
    assert "has(self.image) || has(self.volumeSource)" in out
    assert "!has(self.image) || has(self.imagePushSecret)" in out
    assert any("accessMode != 'private'" in r for r in _rules(p["inference"]["properties"]["preset"]))


@pytest.mark.parametrize("which", ["workspace", "machine"])
def test_schemas_are_structural_and_bounded_for_cel(which: str, ws_crd: dict[str, Any]) -> None:
    crd = ws_crd if which == "workspace" else crds.machine_crd()
    for path, node in _walk(_schema(crd)):
        if node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string"):
            continue
        assert "type" in node, f"{path} has no type"
        assert "$ref" not in node and "anyOf" not in node, path
        if node["type"] == "array" and path.startswith((".resource", ".inference", ".tuning", ".spec")):
            assert "maxItems" in node, f"{path} is an unbounded list"


def test_machine_crd_is_cluster_scoped_karpenter_v1alpha5() -> None:
    crd = crds.machine_crd()
    assert crd["metadata"]["name"] == "machines.karpenter.sh"
    assert crd["spec"]["scope"] == "Cluster"
    assert crd["spec"]["versions"][0]["name"] == "v1alpha5"
    spec = _schema(crd)["properties"]["spec"]
    assert spec["required"] == ["requirements"]
    assert set(spec["properties"]) == {
        "requirements",
        "resources",
        "taints",
        "startupTaints",
        "kubelet",
        "machineTemplateRef",
    }
    status = _schema(crd)["properties"]["status"]["properties"]
    assert {"providerID", "nodeName", "capacity", "allocatable", "conditions"} == set(status)
    quantity = spec["properties"]["resources"]["properties"]["requests"]["additionalProperties"]
    assert quantity["x-kubernetes-int-or-string"] is True


def test_the_generated_files_are_the_rendered_crds() -> None:
    text = (ROOT / "deploy" / "crds" / "kaito.sh_workspaces.yaml").read_text()
    assert yaml.safe_load(text) == crds.workspace_crd(preset_names(), tunable_preset_names())


def test_an_unsupported_type_is_refused_by_the_renderer() -> None:
    import msgspec.inspect as mi

    with pytest.raises(crds.SchemaError):
        crds.type_schema(mi.type_info(int | bytes))
