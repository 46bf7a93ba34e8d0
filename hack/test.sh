#!/usr/bin/env bash
# The test command (README, .ci/run): installs on a fresh machine what the tests need, then runs
# tox's lint, unit, runtime and e2e environments. Extra arguments go to tox (e.g. -e unit).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

# Debian packages the tests use (a registry for the adapter push test, ...): hack/apt-packages.txt.
if [[ -s hack/apt-packages.txt ]]; then
  mapfile -t wanted < <(grep -v '^\s*#' hack/apt-packages.txt | sed '/^\s*$/d')
  missing=()
  for pkg in "${wanted[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "error: Debian packages missing: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # Debian's docker-registry package starts an open registry on :5000; the tests run their own.
    if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null \
      && systemctl is-system-running >/dev/null 2>&1; then
      systemctl disable --now docker-registry >/dev/null 2>&1 || echo "warning: could not stop Debian's docker-registry service" >&2
    fi
  fi
fi

# tox in a venv of its own, so the system Python stays untouched.
tools=.cache/tools
if [[ ! -x $tools/bin/tox ]]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q 'tox==4.67.15' 'virtualenv==21.15.8'
fi

# The local control plane's binaries (cached by version; the first build takes minutes).
hack/cluster.sh build

if [[ $# -eq 0 ]]; then set -- -e lint,unit,runtime,e2e; fi
rc=0
"$tools/bin/tox" "$@" || rc=$?
echo "test command finished in $((SECONDS - started))s (exit status $rc)"
exit "$rc"
