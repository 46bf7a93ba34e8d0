"""Machine types: Karpenter-core v1alpha5 wire names, requirement accessors and deterministic names."""

from __future__ import annotations

import re

import msgspec

from kaito.api.core import NodeSelectorRequirement, Taint
from kaito.api.machine import Machine, MachineSpec, machine_name, new_machine

WIRE = {
    "apiVersion": "karpenter.sh/v1alpha5",
    "kind": "Machine",
    "metadata": {
        "name": "ws1a2b3c4d5e",
        "labels": {"kaito.sh/workspace": "w", "kaito.sh/workspacenamespace": "ns"},
    },
    "spec": {
        "requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["Standard_NC6s_v3"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eastus-1", "eastus-2"]},
        ],
        "resources": {"requests": {"storage": "87Gi", "nvidia.com/gpu": 1}},
        "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
        "kubelet": {"clusterDNS": ["10.0.0.10"], "cpuCFSQuota": True, "imageGCHighThresholdPercent": 85},
        "machineTemplateRef": {"name": "ws1a2b3c4d5e"},
    },
    "status": {
        "providerID": "azure:///subscriptions/x/vm/0",
        "nodeName": "aks-ws1a2b3c4d5e-0",
        "capacity": {"nvidia.com/gpu": "1"},
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}],
    },
}


def test_a_karpenter_machine_round_trips_losslessly() -> None:
    m = msgspec.convert(WIRE, Machine)
    assert msgspec.to_builtins(m) == WIRE


def test_requirement_accessors_read_instance_type_capacity_type_and_zones() -> None:
    spec = msgspec.convert(WIRE, Machine).spec
    assert spec.instance_type() == "Standard_NC6s_v3"
    assert spec.capacity_type() == "spot"
    assert spec.zones() == ["eastus-1", "eastus-2"]


def test_capacity_type_is_on_demand_unless_only_spot_is_allowed() -> None:
    spec = MachineSpec(
        requirements=[
            NodeSelectorRequirement(
                key="karpenter.sh/capacity-type", operator="In", values=["spot", "on-demand"]
            )
        ],
        taints=[Taint(key="sku", value="gpu", effect="NoSchedule")],
    )
    assert spec.capacity_type() == "on-demand"
    assert MachineSpec(requirements=[]).instance_type() is None


def test_machine_names_are_deterministic_and_valid_aks_agent_pool_names() -> None:
    a = machine_name("default", "workspace-tuning-phi-3", 0)
    assert a == machine_name("default", "workspace-tuning-phi-3", 0)
    assert a != machine_name("default", "workspace-tuning-phi-3", 1)
    assert a != machine_name("other", "workspace-tuning-phi-3", 0)
    assert re.fullmatch(r"[a-z][a-z0-9]{0,11}", a)


def test_new_machine_carries_kaitos_labels_requirements_taint_and_disk() -> None:
    m = new_machine(
        workspace_namespace="ns",
        workspace_name="w",
        index=0,
        instance_type="Standard_NC6s_v3",
        storage="87Gi",
        match_labels={"app": "tuning-phi-3"},
    )
    assert m.metadata.name == machine_name("ns", "w", 0)
    assert m.metadata.labels == {
        "app": "tuning-phi-3",
        "karpenter.sh/provisioner-name": "default",
        "kaito.sh/workspace": "w",
        "kaito.sh/workspacenamespace": "ns",
    }
    assert m.spec.instance_type() == "Standard_NC6s_v3"
    assert m.spec.capacity_type() == "on-demand"
    assert m.spec.requirement_values("kaito.sh/machine-type") == ["gpu"]
    assert m.spec.resources is not None and m.spec.resources.requests == {"storage": "87Gi"}
    assert m.spec.taints == [Taint(key="sku", value="gpu", effect="NoSchedule")]
    assert msgspec.to_builtins(m)["apiVersion"] == "karpenter.sh/v1alpha5"
