"""Fixtures for the API e2e tests: the generated CRDs installed in the session's control plane."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kubectl import Kubectl

# pytest runs with --import-mode=importlib: make the case table beside this file importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

CRDS = Path(__file__).resolve().parents[3] / "deploy" / "crds"


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> None:
    """deploy/crds applied (server-side) and Established."""
    kubectl("apply", "--server-side", "--force-conflicts", "-k", str(CRDS))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/workspaces.kaito.sh",
        "crd/machines.karpenter.sh",
    )
