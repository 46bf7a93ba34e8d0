"""The local control plane is a real Kubernetes: GPU scheduling, controllers, Jobs, CRDs and watches."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubectl import Kubectl, eventually, has_condition

GPU_TAINT = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}


@pytest.fixture
def gpu_node(kubectl: Kubectl) -> Iterator[str]:
    """A kwok-simulated node with one NVIDIA GPU and the GPU taint."""
    name = f"gpu-{uuid.uuid4().hex[:8]}"
    resources = {"cpu": "6", "memory": "112Gi", "pods": "110", "nvidia.com/gpu": "1"}
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {"kubernetes.io/hostname": name, "e2e-node": name},
            },
            "spec": {"taints": [GPU_TAINT]},
            "status": {"capacity": resources, "allocatable": resources},
        }
    )
    kubectl.wait_for("node", name, until=has_condition("Ready"))
    yield name
    kubectl("delete", "node", name, "--ignore-not-found", "--wait=false")


def _pod_spec(node: str, gpus: int = 1) -> dict[str, Any]:
    return {
        "nodeSelector": {"e2e-node": node},
        "tolerations": [{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        "containers": [
            {
                "name": "main",
                "image": "example.com/runtime:1",
                "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
            }
        ],
    }


def _pod(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _job(name: str, node: str, namespace: str, annotations: dict[str, str]) -> dict[str, Any]:
    template = {
        "metadata": {"annotations": annotations},
        "spec": {**_pod_spec(node), "restartPolicy": "Never"},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"backoffLimit": 0, "template": template},
    }


def test_gpu_node_reports_its_gpu_capacity_and_is_ready(kubectl: Kubectl, gpu_node: str) -> None:
    node = kubectl.get("node", gpu_node)
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    # The node lifecycle controller may still be removing its transient not-ready taint.
    assert GPU_TAINT in node["spec"]["taints"]


def test_pod_requesting_a_gpu_is_scheduled_onto_the_gpu_node_and_becomes_ready(
    kubectl: Kubectl, gpu_node: str, namespace: str
) -> None:
    kubectl.apply(_pod("gpu-pod", namespace, _pod_spec(gpu_node)))
    pod = kubectl.wait_for("pod", "gpu-pod", "-n", namespace, until=has_condition("Ready"))
    assert pod["spec"]["nodeName"] == gpu_node
    assert pod["status"]["phase"] == "Running"


def test_a_second_gpu_pod_stays_pending_while_the_only_gpu_is_taken(
    kubectl: Kubectl, gpu_node: str, namespace: str
) -> None:
    kubectl.apply(_pod("first", namespace, _pod_spec(gpu_node)))
    kubectl.wait_for("pod", "first", "-n", namespace, until=has_condition("Ready"))
    kubectl.apply(_pod("second", namespace, _pod_spec(gpu_node)))
    second = kubectl.wait_for("pod", "second", "-n", namespace, until=has_condition("PodScheduled", "False"))
    scheduled = next(c for c in second["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["reason"] == "Unschedulable"
    assert "nvidia.com/gpu" in scheduled["message"]


def test_deployment_pods_are_created_by_the_controller_manager_and_become_ready(
    kubectl: Kubectl, gpu_node: str, namespace: str
) -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": _pod_spec(gpu_node, gpus=0)}
    kubectl.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
        }
    )

    def two_ready(deployment: dict[str, Any]) -> bool:
        return deployment.get("status", {}).get("readyReplicas") == 2

    kubectl.wait_for("deployment", "web", "-n", namespace, until=two_ready)


def test_job_pod_succeeds_and_the_job_completes(kubectl: Kubectl, gpu_node: str, namespace: str) -> None:
    kubectl.apply(_job("tune", gpu_node, namespace, annotations={}))
    job = kubectl.wait_for("job", "tune", "-n", namespace, until=has_condition("Complete"))
    assert job["status"]["succeeded"] == 1


def test_a_job_pod_can_be_made_to_fail_with_an_exit_code(
    kubectl: Kubectl, gpu_node: str, namespace: str
) -> None:
    kubectl.apply(_job("broken", gpu_node, namespace, annotations={"kaito.sh/kwok-exit-code": "3"}))
    kubectl.wait_for("job", "broken", "-n", namespace, until=has_condition("Failed"))
    pods = kubectl.get("pods", "-n", namespace, "-l", "job-name=broken")["items"]
    terminated = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3


GADGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.e2e.kaito.sh"},
    "spec": {
        "group": "e2e.kaito.sh",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }
                },
            }
        ],
    },
}


def test_custom_resource_status_subresource_is_updated_and_watched(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(GADGET_CRD)
    kubectl.wait_for("crd", "gadgets.e2e.kaito.sh", until=has_condition("Established"))
    gadget = {
        "apiVersion": "e2e.kaito.sh/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "namespace": namespace},
    }
    eventually(lambda: kubectl.apply({**gadget, "spec": {"size": 2}}), what="gadget created")
    watch = subprocess.Popen(
        [
            kubectl.binary,
            f"--kubeconfig={kubectl.kubeconfig}",
            "get",
            "gadgets",
            "-n",
            namespace,
            "--watch-only",
            "--output-watch-events",
            "-o",
            "json",
            "--request-timeout=60s",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ignored, ready = '{"status":{"phase":"Ignored"}}', '{"status":{"phase":"Ready"}}'
        # A status written through the main resource is dropped; through /status it lands.
        kubectl("patch", "gadget", "g1", "-n", namespace, "--type=merge", "-p", ignored)
        assert "status" not in kubectl.get("gadget", "g1", "-n", namespace)
        kubectl("patch", "gadget", "g1", "-n", namespace, "--subresource=status", "--type=merge", "-p", ready)
        event = _next_watch_event(watch)
        assert event["type"] == "MODIFIED"
        assert event["object"]["status"]["phase"] == "Ready"
        assert event["object"]["spec"]["size"] == 2
    finally:
        watch.kill()
        watch.wait()


def _next_watch_event(watch: subprocess.Popen[str]) -> dict[str, Any]:
    """Reads one JSON document (kubectl pretty-prints each watch event over several lines)."""
    assert watch.stdout is not None
    buffer = ""
    for line in watch.stdout:
        buffer += line
        try:
            event, _ = json.JSONDecoder().raw_decode(buffer.strip())
        except json.JSONDecodeError:
            continue
        return event  # type: ignore[no-any-return]
    raise AssertionError("the watch ended without an event")
