#!/usr/bin/env bash
# The local Kubernetes control plane: up | down | status | kubeconfig | env | build | restart-apiserver |
# kubectl ARGS... (the kubectl built with the plane, pointed at it).
# See hack/localcluster.py; state in .cache/cluster (KAITO_CLUSTER_DIR), binaries in ~/.cache/kaito.
set -euo pipefail
exec python3 "$(dirname "$0")/localcluster.py" "$@"
