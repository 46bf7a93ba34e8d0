"""Pod watch events decoded and stored in an informer cache per second, and memory per cached Pod:
kaito.kube (msgspec partial Structs, gc=False) against kubernetes-asyncio's models (json.loads +
ApiClient deserialization into V1Pod), measured in the same run on ~4 KB synthetic Pod events.

Targets (issue 3): >= 100,000 events/s on one core, >= 40x kubernetes-asyncio, <= 3 KiB per Pod.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kaito.kube.informer import Informer, slim
from kaito.kube.meta import ObjectMeta
from kaito.kube.resource import Resource
from kaito.kube.watch import EventDecoder


class PodSpec(msgspec.Struct, kw_only=True, rename="camel", gc=False, omit_defaults=True):
    node_name: str | None = None


class PodCondition(msgspec.Struct, kw_only=True, rename="camel", gc=False, omit_defaults=True):
    """core/v1 PodCondition. A Literal decodes to one shared str object: no copy per Pod."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None


class PodStatus(msgspec.Struct, kw_only=True, rename="camel", gc=False, omit_defaults=True):
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"] | None = None
    pod_ip: str | None = msgspec.field(default=None, name="podIP")
    conditions: list[PodCondition] | None = None


class Pod(msgspec.Struct, kw_only=True, rename="camel", gc=False, omit_defaults=True):
    """The slice of a Pod a controller reads: metadata, node, phase, IP and conditions."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)
    status: PodStatus = msgspec.field(default_factory=PodStatus)


PODS = Resource("", "v1", "pods", "Pod", True, Pod)


def pod(i: int) -> dict[str, Any]:
    name = f"workload-{i // 10}-7c9d8f6b5-{i:05x}"
    ts = "2026-11-23T10:00:00Z"
    fields = {
        "f:metadata": {"f:labels": {"f:app": {}, "f:pod-template-hash": {}}},
        "f:spec": {"f:containers": {}},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": name[:-5],
            "namespace": f"team-{i % 20}",
            "uid": f"0b6f3c2e-{i:04x}-4d3a-9a55-6a0c1f4e{i:04x}",
            "resourceVersion": str(100000 + i),
            "creationTimestamp": ts,
            "labels": {"app": f"workload-{i // 10}", "pod-template-hash": "7c9d8f6b5", "tier": "backend"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": ts, "prometheus.io/scrape": "true"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": name[:-6],
                    "uid": f"3a1f-{i:08x}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": ts,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields,
                },
                {
                    "manager": "kubelet",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": ts,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:status": {"f:conditions": {}, "f:podIP": {}}},
                    "subresource": "status",
                },
            ],
        },
        "spec": {
            "nodeName": f"node-{i % 50}",
            "serviceAccountName": "default",
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/team/app:1.2.3",
                    "args": ["--port=8080", "--log-level=info"],
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "env": [{"name": f"VAR_{k}", "value": f"value-{k}"} for k in range(6)],
                    "resources": {
                        "limits": {"cpu": "1", "memory": "512Mi"},
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                    },
                    "volumeMounts": [
                        {
                            "name": "kube-api-access",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                        }
                    ],
                    "readinessProbe": {
                        "httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
                        "periodSeconds": 10,
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "volumes": [
                {
                    "name": "kube-api-access",
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                        ],
                    },
                }
            ],
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
        },
        "status": {
            "phase": "Running",
            "hostIP": f"10.0.{i % 50}.1",
            "podIP": f"10.244.{(i // 250) % 250}.{i % 250}",
            "podIPs": [{"ip": f"10.244.{(i // 250) % 250}.{i % 250}"}],
            "startTime": ts,
            "qosClass": "Burstable",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": ts}
                for t in (
                    "PodReadyToStartContainers",
                    "Initialized",
                    "Ready",
                    "ContainersReady",
                    "PodScheduled",
                )
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "image": "registry.example.com/team/app:1.2.3",
                    "imageID": "registry.example.com/team/app@sha256:" + "ab" * 32,
                    "containerID": "containerd://" + "cd" * 32,
                    "state": {"running": {"startedAt": ts}},
                    "lastState": {},
                }
            ],
        },
    }


def events(n: int) -> list[bytes]:
    return [json.dumps({"type": "ADDED", "object": pod(i)}).encode() + b"\n" for i in range(n)]


def ours(lines: list[bytes], clock: Callable[[], float] = time.perf_counter) -> tuple[float, Informer[Pod]]:
    # The cache keeps only the annotations the controller reads (kaito.sh/*), as the transform hook is for.
    inf = Informer(None, PODS, transform=slim(keep_annotation_prefixes=("kaito.sh/",)))  # type: ignore[arg-type]
    dec = EventDecoder(PODS)
    stream = b"".join(lines)
    chunks = [stream[i : i + (1 << 16)] for i in range(0, len(stream), 1 << 16)]
    start = clock()
    for chunk in chunks:
        for ev in dec.feed(chunk):
            inf.apply(ev.type, ev.object)
    return clock() - start, inf


_API_CLIENT: Any = None


def theirs(lines: list[bytes]) -> tuple[float, dict[str, Any]]:
    deserialize = _API_CLIENT._ApiClient__deserialize  # what Watch.unmarshal_event uses per event
    cache: dict[str, Any] = {}
    start = time.perf_counter()
    for line in lines:
        ev = json.loads(line)
        obj = deserialize(ev["object"], "V1Pod")
        cache[f"{obj.metadata.namespace}/{obj.metadata.name}"] = obj
    return time.perf_counter() - start, cache


class _Skip(msgspec.Struct, gc=False):
    """Decodes nothing: timing it gives this machine's JSON scanning floor."""


def parse_floor(lines: list[bytes]) -> float:
    dec = msgspec.json.Decoder(_Skip)
    stream = b"".join(lines)
    start = time.process_time()
    dec.decode_lines(stream)
    return len(lines) / (time.process_time() - start)


def cpu_rate(lines: list[bytes]) -> float:
    elapsed, _ = ours(lines, time.process_time)
    return len(lines) / elapsed


def bytes_per_object(build: Any, lines: list[bytes]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _, kept = build(lines)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return (after - before) / len(lines)


async def main() -> None:
    global _API_CLIENT
    from kubernetes_asyncio.client import ApiClient

    _API_CLIENT = ApiClient()
    try:
        report()
    finally:
        await _API_CLIENT.close()


def report() -> None:
    n_ours, n_theirs = 20000, 2000
    lines = events(n_ours)
    avg = sum(map(len, lines)) / len(lines)
    ours(lines[:2000])
    theirs(lines[:200])  # warm-up
    t_ours = min(ours(lines)[0] for _ in range(3))
    t_theirs = min(theirs(lines[:n_theirs])[0] for _ in range(2))
    rate_ours, rate_theirs = n_ours / t_ours, n_theirs / t_theirs
    cpu_ours = max(cpu_rate(lines) for _ in range(3))
    floor = parse_floor(lines)
    mem_ours = bytes_per_object(ours, lines[:5000])
    mem_theirs = bytes_per_object(theirs, lines[:1000])
    print(
        f"pod event size: {avg:,.0f} B average, {n_ours} events (kaito.kube), {n_theirs} (kubernetes-asyncio)"
    )
    print(f"kaito.kube decode+store:      {rate_ours:>10,.0f} events/s  ({1e6 / rate_ours:.1f} us/event)")
    print(f"kubernetes-asyncio models:    {rate_theirs:>10,.0f} events/s  ({1e6 / rate_theirs:.1f} us/event)")
    print(f"kaito.kube, CPU time only:    {cpu_ours:>10,.0f} events/s  (process CPU time, one core)")
    print(f"machine calibration: msgspec JSON scan floor (no fields kept) {floor:,.0f} events/s")
    print(f"decode+store costs {floor / cpu_ours:.1f}x the scan floor (no JSON decoder beats the floor)")
    print(f"speed ratio: {rate_ours / rate_theirs:.1f}x  (target >= 40x; >= 100,000 events/s)")
    print(
        f"memory per cached Pod: kaito.kube {mem_ours / 1024:.2f} KiB, "
        f"kubernetes-asyncio {mem_theirs / 1024:.2f} KiB"
    )
    print(f"memory ratio: {mem_theirs / mem_ours:.1f}x less  (target <= 3 KiB per Pod)")


if __name__ == "__main__":
    asyncio.run(main())
