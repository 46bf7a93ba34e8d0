#!/usr/bin/env bash
# The demo (README): brings the local control plane up, adds a simulated GPU node, and runs a Pod that
# requests a GPU until it is Ready. Leaves the plane running; `hack/cluster.sh down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
k() { hack/cluster.sh kubectl "$@"; }

hack/cluster.sh up
echo
echo "== a simulated GPU node (kwok): 1x nvidia.com/gpu, tainted sku=gpu:NoSchedule"
k apply -f - <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: demo-gpu-node
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: demo-gpu-node, apps: demo}
spec:
  taints: [{key: sku, value: gpu, effect: NoSchedule}]
status:
  capacity: {cpu: "6", memory: 112Gi, pods: "110", nvidia.com/gpu: "1"}
  allocatable: {cpu: "6", memory: 112Gi, pods: "110", nvidia.com/gpu: "1"}
YAML
k wait --for=condition=Ready node/demo-gpu-node --timeout=60s
echo
echo "== a Pod that requests the GPU and tolerates the taint"
k apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: demo-gpu-pod, namespace: default}
spec:
  tolerations: [{key: sku, operator: Equal, value: gpu, effect: NoSchedule}]
  containers:
  - name: main
    image: mcr.microsoft.com/aks/kaito/kaito-phi-3-mini-128k-instruct:0.0.1
    resources: {limits: {nvidia.com/gpu: "1"}}
YAML
k wait --for=condition=Ready pod/demo-gpu-pod --timeout=60s
echo
k get nodes -o custom-columns='NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,GPUS:.status.allocatable.nvidia\.com/gpu,TAINTS:.spec.taints[*].key'
echo
k get pods -o wide
echo
echo "The plane is still running. Use it with: $(hack/cluster.sh env)"
echo "Stop it with: hack/cluster.sh down"
