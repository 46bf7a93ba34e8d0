#!/usr/bin/env bash
# For users with Docker: a kind cluster with kwok installed, so the e2e suite runs there too:
#   hack/kind.sh && KUBECONFIG=$HOME/.kube/config hack/test.sh -e e2e
# Not exercised in CI (our machines have no Docker engine). Needs docker, kind and kubectl on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${KAITO_KIND_NAME:-kaito}
kwok_version=v0.7.0
for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed (hack/kind.sh needs docker, kind, kubectl)" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "error: the Docker engine is not running" >&2; exit 1; }

kind get clusters | grep -qx "$name" || kind create cluster --name "$name" --wait 120s
kubectl config use-context "kind-$name"
# kwok's controller and its Stage CRD, then this project's stages (the same ones the local plane uses).
kubectl apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/$kwok_version/kwok.yaml"
kubectl -n kube-system rollout status deployment/kwok-controller --timeout=120s
python3 - <<'PY' | kubectl apply -f -
import pathlib
docs = pathlib.Path("hack/kwok/stages.yaml").read_text().split("\n---\n")
print("\n---\n".join(d for d in docs if "kind: Stage" in d))
PY
echo "kind cluster $name is ready with kwok; run: KUBECONFIG=\$HOME/.kube/config hack/test.sh -e e2e"
