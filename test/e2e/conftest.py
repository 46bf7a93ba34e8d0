"""Session fixtures for e2e tests: a real control plane to run against.

If KUBECONFIG names a cluster, the tests use it (kind, or a local plane someone already started);
otherwise the session brings the local control plane up (hack/cluster.sh) and stops it at the end,
unless KAITO_KEEP_CLUSTER=1.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))

from kubectl import Cluster, Kubectl
from localcluster import LocalCluster


def _local_cluster_owning(kubeconfig: Path) -> LocalCluster | None:
    """The LocalCluster whose state directory holds this kubeconfig, if it is one of ours."""
    state = kubeconfig.resolve().parent
    if (state / "pki").is_dir() and (state / "run").is_dir():
        return LocalCluster(state_dir=state)
    return None


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The control plane under test, with a kubectl bound to it."""
    named = os.environ.get("KUBECONFIG")
    if named:
        kubeconfig = Path(named)
        local = _local_cluster_owning(kubeconfig)
    else:
        local = LocalCluster()
        kubeconfig = local.kubeconfig
    # Our own plane is brought up when needed (also when KUBECONFIG names it but it was stopped);
    # it is stopped at the end only if none of it was running before.
    started_here = False
    if local is not None:
        states = local.status().values()
        started_here = all(state == "stopped" for state in states)
        if any(state != "healthy" for state in states):
            local.up()
    kubectl_path = str(local.kubectl) if local and local.kubectl.exists() else "kubectl"
    yield Cluster(kubeconfig=kubeconfig, local=local, kubectl=Kubectl(kubectl_path, kubeconfig))
    if started_here and local is not None and os.environ.get("KAITO_KEEP_CLUSTER") != "1":
        local.down()


@pytest.fixture(scope="session")
def kubeconfig(cluster: Cluster) -> Path:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    return cluster.kubectl


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")
