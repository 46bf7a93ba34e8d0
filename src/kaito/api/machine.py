"""Machine, karpenter.sh/v1alpha5: the node request the workspace controller writes and a provisioner
fulfils. Cluster-scoped, the shape Karpenter-core shipped (pkg/apis/v1alpha5/machine.go, v0.27-v0.31)
and KAITO v0.3's chart installed, so either our provisioner or Azure/gpu-provisioner can serve it.

A cluster-scoped Machine cannot be owned by a namespaced Workspace: it points at its workspace by the
labels `kaito.sh/workspace` and `kaito.sh/workspacenamespace` and is removed by the workspace finalizer.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, ClassVar, Final, Literal

import msgspec

from kaito.api.core import NodeSelectorRequirement, ResourceList, Taint
from kaito.api.labels import (
    LABEL_ARCH,
    LABEL_CAPACITY_TYPE,
    LABEL_INSTANCE_TYPE,
    LABEL_MACHINE_TYPE,
    LABEL_OS,
    LABEL_PROVISIONER_NAME,
    LABEL_WORKSPACE,
    LABEL_WORKSPACE_NAMESPACE,
    LABEL_ZONE,
    PROVISIONER_NAME_DEFAULT,
    TAINT_SKU_KEY,
    TAINT_SKU_VALUE,
)
from kaito.api.schema import MAX_NAME, crd, rule
from kaito.kube.meta import Condition, ObjectMeta

GROUP: Final = "karpenter.sh"
VERSION: Final = "v1alpha5"
API_VERSION: Final = "karpenter.sh/v1alpha5"
KIND: Final = "Machine"
PLURAL: Final = "machines"

CAPACITY_ON_DEMAND: Final = "on-demand"
CAPACITY_SPOT: Final = "spot"


class ResourceRequirements(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """The resources the node must offer, e.g. {"storage": "50Gi"} for the OS disk."""

    requests: ResourceList | None = None


class MachineTemplateRef(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A provider-specific template (AKSNodeClass, EC2NodeClass, ...) the provisioner may read."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]
    kind: str | None = None
    api_version: str | None = None


class KubeletConfiguration(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The subset of kubelet flags Karpenter lets a Machine set."""

    cluster_dns: Annotated[list[str], msgspec.Meta(max_length=16)] | None = msgspec.field(
        default=None, name="clusterDNS"
    )
    container_runtime: str | None = msgspec.field(default=None, name="containerRuntime")
    max_pods: Annotated[int, msgspec.Meta(ge=0)] | None = msgspec.field(default=None, name="maxPods")
    pods_per_core: Annotated[int, msgspec.Meta(ge=0)] | None = msgspec.field(default=None, name="podsPerCore")
    system_reserved: ResourceList | None = msgspec.field(default=None, name="systemReserved")
    kube_reserved: ResourceList | None = msgspec.field(default=None, name="kubeReserved")
    eviction_hard: dict[str, str] | None = msgspec.field(default=None, name="evictionHard")
    eviction_soft: dict[str, str] | None = msgspec.field(default=None, name="evictionSoft")
    image_gc_high_threshold_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = msgspec.field(
        default=None, name="imageGCHighThresholdPercent"
    )
    image_gc_low_threshold_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = msgspec.field(
        default=None, name="imageGCLowThresholdPercent"
    )
    cpu_cfs_quota: bool | None = msgspec.field(default=None, name="cpuCFSQuota")


class MachineSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """What node to launch: requirements on its labels, resources, taints and kubelet settings."""

    requirements: Annotated[
        list[NodeSelectorRequirement],
        msgspec.Meta(max_length=32),
        crd(
            rules=[
                rule(
                    "self.all(r, r.operator != 'In' || (has(r.values) && size(r.values) > 0))",
                    "requirements with operator In need at least one value",
                ),
                rule(
                    f"self.all(r, r.key != '{LABEL_CAPACITY_TYPE}' || !has(r.values) || "
                    f"r.values.all(v, v in ['{CAPACITY_ON_DEMAND}', '{CAPACITY_SPOT}']))",
                    f"requirement {LABEL_CAPACITY_TYPE} takes the values "
                    f"{CAPACITY_ON_DEMAND} or {CAPACITY_SPOT}",
                ),
            ]
        ),
    ]
    resources: ResourceRequirements | None = None
    taints: Annotated[list[Taint], msgspec.Meta(max_length=32)] | None = None
    startup_taints: Annotated[list[Taint], msgspec.Meta(max_length=32)] | None = None
    kubelet: KubeletConfiguration | None = None
    machine_template_ref: MachineTemplateRef | None = None

    def requirement_values(self, key: str) -> list[str]:
        """The values of the first In requirement on a label key, or [] when there is none."""
        for req in self.requirements:
            if req.key == key and req.operator == "In":
                return list(req.values or [])
        return []

    def instance_type(self) -> str | None:
        """The instance type asked for (the first value of the instance-type requirement)."""
        values = self.requirement_values(LABEL_INSTANCE_TYPE)
        return values[0] if values else None

    def capacity_type(self) -> str:
        """The capacity type asked for; on-demand unless the requirements allow only spot."""
        values = self.requirement_values(LABEL_CAPACITY_TYPE)
        return CAPACITY_SPOT if values == [CAPACITY_SPOT] else CAPACITY_ON_DEMAND

    def zones(self) -> list[str]:
        """The zones the node may be placed in; empty means any."""
        return self.requirement_values(LABEL_ZONE)


class MachineStatus(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """What the provisioner observed: the cloud instance, its Node and readiness conditions."""

    node_name: str | None = None
    provider_id: str | None = msgspec.field(default=None, name="providerID")
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    conditions: (
        Annotated[
            list[Condition],
            msgspec.Meta(max_length=16),
            crd(**{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}),
        ]
        | None
    ) = None


class Machine(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """A request for one node, fulfilled by a provisioner (Karpenter-core v1alpha5 Machine)."""

    crd_rules: ClassVar[list[dict[str, str]]] = []

    api_version: Literal["karpenter.sh/v1alpha5"]
    kind: Literal["Machine"]
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: MachineSpec
    status: MachineStatus | None = None


MACHINE_DECODER: Final = msgspec.json.Decoder(Machine)


def machine_name(workspace_namespace: str, workspace_name: str, index: int) -> str:
    """A deterministic Machine name for the index-th node of a workspace.

    "ws" + 10 hex digits of sha256(namespace/name/index): 12 characters, a valid AKS agent-pool name
    (`^[a-z][a-z0-9]{0,11}$`, which gpu-provisioner names its pools after), stable across restarts so a
    stale cache can never create a duplicate (CONTROLLER-DESIGN.md §9 item 24).
    """
    digest = hashlib.sha256(f"{workspace_namespace}/{workspace_name}/{index}".encode()).hexdigest()
    return "ws" + digest[:10]


def new_machine(
    *,
    workspace_namespace: str,
    workspace_name: str,
    index: int,
    instance_type: str,
    storage: str,
    match_labels: dict[str, str] | None = None,
    capacity_type: str = CAPACITY_ON_DEMAND,
) -> Machine:
    """The Machine KAITO v0.3 creates for the index-th node of a workspace (`pkg/machine/machine.go`).

    Labels: the workspace's name and namespace, its labelSelector's matchLabels (so the Node matches
    the selector) and the fake provisioner name; requirements: instance type, provisioner, GPU machine
    type, amd64/linux and the capacity type; taint sku=gpu:NoSchedule; the OS disk as a storage request.
    """
    labels = {
        **(match_labels or {}),
        LABEL_PROVISIONER_NAME: PROVISIONER_NAME_DEFAULT,
        LABEL_WORKSPACE: workspace_name,
        LABEL_WORKSPACE_NAMESPACE: workspace_namespace,
    }

    def req(key: str, value: str) -> NodeSelectorRequirement:
        return NodeSelectorRequirement(key=key, operator="In", values=[value])

    return Machine(
        api_version=API_VERSION,
        kind=KIND,
        metadata=ObjectMeta(name=machine_name(workspace_namespace, workspace_name, index), labels=labels),
        spec=MachineSpec(
            requirements=[
                req(LABEL_INSTANCE_TYPE, instance_type),
                req(LABEL_PROVISIONER_NAME, PROVISIONER_NAME_DEFAULT),
                req(LABEL_MACHINE_TYPE, "gpu"),
                req(LABEL_ARCH, "amd64"),
                req(LABEL_OS, "linux"),
                req(LABEL_CAPACITY_TYPE, capacity_type),
            ],
            resources=ResourceRequirements(requests={"storage": storage}),
            taints=[Taint(key=TAINT_SKU_KEY, value=TAINT_SKU_VALUE, effect="NoSchedule")],
        ),
    )
