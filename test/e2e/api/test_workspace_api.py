"""The Workspace and Machine CRDs in a real apiserver: invalid objects are refused with messages that
name the field, the seed and every example are accepted with their defaults, immutable fields stay
put, and `kubectl get workspace` prints KAITO's columns."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from kubectl import Kubectl, KubectlError
from workspace_cases import INFERENCE, INVALID, TUNING, TUNING_UPDATES, UPDATES, Case

from kaito.api.machine import Machine, new_machine

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "deploy" / "examples").glob("*.yaml"))
pytestmark = pytest.mark.usefixtures("crds")


def _create(kubectl: Kubectl, namespace: str, doc: dict[str, Any] | str) -> str:
    body = doc if isinstance(doc, str) else json.dumps(doc)
    return kubectl("create", "-n", namespace, "-f", "-", "-o", "name", stdin=body)


def test_the_invalid_table_is_long_enough_to_cover_every_rule() -> None:
    assert len(INVALID) >= 30
    assert len({c.id for c in INVALID}) == len(INVALID)


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_an_invalid_workspace_is_refused_naming_the_field(
    kubectl: Kubectl, namespace: str, case: Case
) -> None:
    with pytest.raises(KubectlError) as refused:
        _create(kubectl, namespace, case.doc)
    message = str(refused.value)
    assert "is invalid" in message or "Invalid value" in message or "Required value" in message, message
    for words in case.expect:
        assert words in message, f"{words!r} not in: {message}"


def test_the_seed_is_accepted_exactly_as_written(kubectl: Kubectl, namespace: str) -> None:
    seed = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "kaito_workspace_tuning_phi_3.yaml"
    assert (
        _create(kubectl, namespace, seed.read_text()).strip() == "workspace.kaito.sh/workspace-tuning-phi-3"
    )
    ws = kubectl.get("workspace", "workspace-tuning-phi-3", "-n", namespace)
    assert ws["resource"]["count"] == 1  # defaulted
    assert ws["tuning"]["method"] == "qlora"
    assert ws["tuning"]["preset"]["accessMode"] == "public"  # defaulted
    assert ws["tuning"]["output"]["imagePushSecret"] == "ACR_REGISTRY_SECRET_HERE"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_is_accepted(kubectl: Kubectl, namespace: str, path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    _create(kubectl, namespace, path.read_text())
    got = kubectl.get("workspace", doc["metadata"]["name"], "-n", namespace)
    assert got["resource"]["labelSelector"] == doc["resource"]["labelSelector"]
    if "template" in doc.get("inference", {}):
        assert got["inference"]["template"] == doc["inference"]["template"]  # preserved as given


def test_defaults_are_applied_by_the_apiserver(kubectl: Kubectl, namespace: str) -> None:
    doc = {
        "apiVersion": "kaito.sh/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": "defaults"},
        "resource": {"labelSelector": {"matchLabels": {"a": "b"}}},
        "inference": {"preset": {"name": "phi-4"}, "adapters": [{"source": {"name": "x", "image": "r/x:1"}}]},
    }
    _create(kubectl, namespace, doc)
    got = kubectl.get("workspace", "defaults", "-n", namespace)
    assert got["resource"]["count"] == 1
    assert got["resource"]["instanceType"] == "Standard_NC12s_v3"
    assert got["inference"]["preset"]["accessMode"] == "public"
    assert got["inference"]["adapters"][0]["strength"] == "1.0"


@pytest.mark.parametrize(
    ("base", "case"),
    [(INFERENCE, c) for c in UPDATES] + [(TUNING, c) for c in TUNING_UPDATES],
    ids=[c.id for c in UPDATES + TUNING_UPDATES],
)
def test_immutable_fields_cannot_change_after_creation(
    kubectl: Kubectl, namespace: str, base: dict[str, Any], case: Case
) -> None:
    _create(kubectl, namespace, base)
    with pytest.raises(KubectlError) as refused:
        kubectl("replace", "-n", namespace, "-f", "-", stdin=json.dumps(case.doc))
    for words in case.expect:
        assert words in str(refused.value), str(refused.value)


def _table(text: str) -> list[dict[str, str]]:
    """Rows of kubectl's table output keyed by header, cut at the header's column offsets."""
    header, *rows = text.splitlines()
    names = header.split()
    starts = [header.index(n) for n in names]
    bounds = [*starts[1:], None]
    return [{n: row[a:b].strip() for n, a, b in zip(names, starts, bounds, strict=True)} for row in rows]


def test_kubectl_get_workspace_prints_kaitos_columns(kubectl: Kubectl, namespace: str) -> None:
    _create(kubectl, namespace, TUNING)
    status = {
        "status": {
            "conditions": [
                {
                    "type": t,
                    "status": s,
                    "reason": "Test",
                    "message": "",
                    "lastTransitionTime": "2024-07-11T00:00:00Z",
                }
                for t, s in [("ResourceReady", "True"), ("JobStarted", "True"), ("WorkspaceReady", "False")]
            ]
        }
    }
    patch = ["--subresource=status", "--type=merge", "-p", json.dumps(status)]
    kubectl("patch", "workspace", "ws", "-n", namespace, *patch)
    out = kubectl("get", "workspace", "-n", namespace)
    assert out.splitlines()[0].split() == [
        "NAME",
        "INSTANCE",
        "RESOURCEREADY",
        "INFERENCEREADY",
        "WORKSPACEREADY",
        "AGE",
    ]
    [row] = _table(out)
    assert row["NAME"] == "ws" and row["INSTANCE"] == "Standard_NC6s_v3"
    assert (row["RESOURCEREADY"], row["INFERENCEREADY"], row["WORKSPACEREADY"]) == ("True", "", "False")
    wide = kubectl("get", "workspace", "-n", namespace, "-o", "wide")
    assert wide.splitlines()[0].split()[:6] == [
        "NAME", "INSTANCE", "RESOURCEREADY", "INFERENCEREADY", "JOBSTARTED", "WORKSPACESUCCEEDED",
    ]  # fmt: skip
    [wide_row] = _table(wide)
    assert (wide_row["JOBSTARTED"], wide_row["WORKSPACESUCCEEDED"]) == ("True", "")


def test_short_names_and_categories_find_workspaces(kubectl: Kubectl, namespace: str) -> None:
    _create(kubectl, namespace, INFERENCE)
    for resource in ("wk", "wks", "workspace", "kaito"):
        assert "ws" in kubectl("get", resource, "-n", namespace, "-o", "name"), resource


def test_status_is_a_subresource_so_a_spec_update_cannot_write_it(kubectl: Kubectl, namespace: str) -> None:
    _create(kubectl, namespace, INFERENCE)
    kubectl(
        "patch", "workspace", "ws", "-n", namespace, "--type=merge",
        "-p", json.dumps({"status": {"workerNodes": ["n1"]}}),
    )  # fmt: skip
    assert "status" not in kubectl.get("workspace", "ws", "-n", namespace)


MACHINE = {
    "apiVersion": "karpenter.sh/v1alpha5",
    "kind": "Machine",
    "metadata": {"labels": {"kaito.sh/workspace": "ws", "kaito.sh/workspacenamespace": "default"}},
    "spec": {
        "requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["Standard_NC6s_v3"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
        ],
        "resources": {"requests": {"storage": "87Gi"}},
        "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
    },
}


@pytest.fixture
def machine_name(kubectl: Kubectl) -> Any:
    name = f"ws{uuid.uuid4().hex[:10]}"
    yield name
    kubectl("delete", "machine", name, "--ignore-not-found", "--wait=false")


def test_a_machine_is_accepted_cluster_scoped_and_prints_its_columns(
    kubectl: Kubectl, machine_name: str
) -> None:
    machine = new_machine(
        workspace_namespace="default",
        workspace_name="ws",
        index=0,
        instance_type="Standard_NC6s_v3",
        storage="87Gi",
    )
    machine.metadata.name = machine_name
    kubectl("create", "-f", "-", stdin=msgspec.json.encode(machine).decode())
    got = kubectl.get("machine", machine_name)
    assert "namespace" not in got["metadata"]
    assert msgspec.convert(got, Machine).spec == machine.spec  # lossless round trip through the apiserver
    header, *rows = kubectl("get", "machine", machine_name).splitlines()
    assert header.split() == ["NAME", "TYPE", "ZONE", "NODE", "READY", "AGE"]
    assert rows[0].split()[:2] == [machine_name, "Standard_NC6s_v3"]


@pytest.mark.parametrize(
    ("requirement", "expect"),
    [
        (
            {"key": "node.kubernetes.io/instance-type", "operator": "In"},
            "operator In need at least one value",
        ),
        (
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["reserved"]},
            "on-demand or spot",
        ),
        ({"key": "k", "operator": "Near", "values": ["x"]}, "spec.requirements[0].operator"),
    ],
)
def test_an_invalid_machine_is_refused(
    kubectl: Kubectl, machine_name: str, requirement: dict[str, Any], expect: str
) -> None:
    doc = {
        **MACHINE,
        "metadata": {"name": machine_name},
        "spec": {**MACHINE["spec"], "requirements": [requirement]},
    }
    with pytest.raises(KubectlError, match=None) as refused:
        kubectl("create", "-f", "-", stdin=json.dumps(doc))
    assert expect in str(refused.value)
