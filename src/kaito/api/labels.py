"""Label, annotation and finalizer keys that tie Kaito's objects together (KAITO-REFERENCE §1.6, §1.7)."""

from __future__ import annotations

from typing import Final

GROUP: Final = "kaito.sh"

# On every child of a workspace (pods, Deployment/StatefulSet, Service, Job, ConfigMap, Machine, Node):
# the workspace's name and, for cluster-scoped children, its namespace.
LABEL_WORKSPACE: Final = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE: Final = "kaito.sh/workspacenamespace"
# Reserved for Kaito: a user's labelSelector may not use keys with these prefixes (HEAD strips them).
RESERVED_LABEL_PREFIXES: Final = ("kaito.sh/workspace", "kaito.sh/ragengine", "karpenter.kaito.sh/")

# Set by the provisioner on nodes it created: "gpu" for Standard_N* SKUs, else "cpu".
LABEL_MACHINE_TYPE: Final = "kaito.sh/machine-type"
# Set by the controller on nodes whose NVIDIA device plugin is ready.
LABEL_ACCELERATOR: Final = "accelerator"
ACCELERATOR_NVIDIA: Final = "nvidia"

# Karpenter-core well-known labels, used as Machine requirements and copied onto the Node.
LABEL_INSTANCE_TYPE: Final = "node.kubernetes.io/instance-type"
LABEL_CAPACITY_TYPE: Final = "karpenter.sh/capacity-type"
LABEL_ZONE: Final = "topology.kubernetes.io/zone"
LABEL_PROVISIONER_NAME: Final = "karpenter.sh/provisioner-name"
LABEL_OS: Final = "kubernetes.io/os"
LABEL_ARCH: Final = "kubernetes.io/arch"
# KAITO v0.3 labels its Machines with a fake provisioner so a real Karpenter never scales them.
PROVISIONER_NAME_DEFAULT: Final = "default"

# Workspace annotations.
ANNOTATION_ENABLE_LB: Final = "kaito.sh/enablelb"
ANNOTATION_BYPASS_RESOURCE_CHECKS: Final = "kaito.sh/bypass-resource-checks"
ANNOTATION_HASH: Final = "workspace.kaito.io/hash"
ANNOTATION_REVISION: Final = "workspace.kaito.io/revision"
LABEL_REVISION_NAME: Final = "workspace.kaito.io/name"

FINALIZER_WORKSPACE: Final = "workspace.finalizer.kaito.sh"
FINALIZER_MACHINE: Final = "karpenter.sh/termination"

# The taint on Kaito GPU nodes and the tolerations its pods carry.
TAINT_SKU_KEY: Final = "sku"
TAINT_SKU_VALUE: Final = "gpu"
TAINT_GPU_KEY: Final = "nvidia.com/gpu"
RESOURCE_GPU: Final = "nvidia.com/gpu"


def is_reserved_label(key: str) -> bool:
    """Whether a label key is reserved for Kaito and may not appear in a user's labelSelector."""
    return key.startswith(RESERVED_LABEL_PREFIXES)
