"""A small kubectl wrapper and polling helper for e2e tests, plus the Cluster handle the fixtures give."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class KubectlError(RuntimeError):
    """kubectl exited non-zero; the message carries its stderr."""


@dataclass
class Kubectl:
    """Runs kubectl against one kubeconfig."""

    binary: str
    kubeconfig: Path

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60) -> str:
        result = subprocess.run(
            [self.binary, f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout if result.returncode == 0 else result.stderr

    def apply(self, manifest: dict[str, Any] | str, *args: str) -> str:
        body = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("apply", "-f", "-", *args, stdin=body)

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self("get", *args, "-o", "json"))  # type: ignore[no-any-return]

    def wait_for(
        self, *get_args: str, until: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        """Polls `kubectl get ARGS` until the object satisfies `until`; returns that object."""

        def probe() -> dict[str, Any] | None:
            obj = self.get(*get_args)
            return obj if until(obj) else None

        return eventually(probe, timeout=timeout, what=f"{' '.join(get_args)} to satisfy {until.__name__}")


@dataclass
class Cluster:
    """The control plane a test session runs against."""

    kubeconfig: Path
    local: Any  # LocalCluster when it is the local plane, else None
    kubectl: Kubectl

    @property
    def etcd_url(self) -> str:
        if self.local is None:
            raise RuntimeError("etcd is reachable only on the local control plane")
        return str(self.local.etcd_url)

    def restart_apiserver(self) -> None:
        if self.local is None:
            raise RuntimeError("restarting the apiserver needs the local control plane")
        self.local.restart_apiserver()


def condition(obj: dict[str, Any], kind: str) -> str | None:
    """The status ("True", "False", "Unknown") of the object's condition of this type, or None."""
    for entry in obj.get("status", {}).get("conditions", []):
        if entry["type"] == kind:
            return str(entry["status"])
    return None


def has_condition(kind: str, status: str = "True") -> Callable[[dict[str, Any]], bool]:
    """A predicate for wait_for: the object's condition `kind` has this status."""

    def check(obj: dict[str, Any]) -> bool:
        return condition(obj, kind) == status

    check.__name__ = f"{kind}={status}"
    return check


def eventually(
    probe: Callable[[], T | None], *, timeout: float = 60, interval: float = 0.25, what: str = "condition"
) -> T:
    """Polls until probe returns something truthy, or fails naming what it waited for."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (KubectlError, KeyError, IndexError) as error:
            last = error
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last})" if last else "")
    )
