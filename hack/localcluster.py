#!/usr/bin/env python3
"""A real local Kubernetes control plane for tests and the demo, built from Go modules.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are built from the release pinned
in hack/controlplane/go.mod; kwok (simulated nodes and pod lifecycles) from its own module. All
listen on 127.0.0.1. Binaries are cached by version and go.sum hash, so a second `up` takes seconds.
Standard library only: it must run before anything else is installed.

Usage: hack/cluster.sh up|down|status|kubeconfig|env|build|restart-apiserver|kubectl ARGS...
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HACK = Path(__file__).resolve().parent
REPO = HACK.parent
MODULE = HACK / "controlplane"
KWOK_VERSION = "v0.7.0"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
BINARIES = (*COMPONENTS, "kubectl")
SERVICE_CIDR = "10.96.0.0/16"


class ClusterError(RuntimeError):
    """A failure with a message that names what is missing or broken."""


def _kubernetes_version() -> str:
    for line in (MODULE / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "k8s.io/kubernetes":
            return parts[1]
    raise ClusterError(f"{MODULE / 'go.mod'} does not require k8s.io/kubernetes")


@dataclass
class Ports:
    """The loopback ports the plane listens on, all at fixed offsets from one base."""

    base: int
    apiserver: int = field(init=False)
    etcd_client: int = field(init=False)
    etcd_peer: int = field(init=False)
    controller_manager: int = field(init=False)
    scheduler: int = field(init=False)
    kwok: int = field(init=False)

    def __post_init__(self) -> None:
        self.apiserver = self.base + 3
        self.etcd_client = self.base + 4
        self.etcd_peer = self.base + 5
        self.controller_manager = self.base + 6
        self.scheduler = self.base + 7
        self.kwok = self.base + 8


class LocalCluster:
    """Builds, starts, checks and stops the local control plane; state lives in one directory."""

    def __init__(
        self, state_dir: Path | None = None, cache_dir: Path | None = None, port_base: int | None = None
    ) -> None:
        self.state = state_dir or Path(os.environ.get("KAITO_CLUSTER_DIR") or REPO / ".cache" / "cluster")
        self.cache = cache_dir or Path(os.environ.get("KAITO_CACHE_DIR") or Path.home() / ".cache" / "kaito")
        self.ports = Ports(port_base or self._remembered_port_base())
        self.version = _kubernetes_version()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def _remembered_port_base(self) -> int:
        """The base a cluster in this state directory was started with, else KAITO_CLUSTER_PORT_BASE."""
        try:
            return int((self.state / "port-base").read_text())
        except (OSError, ValueError):
            return int(os.environ.get("KAITO_CLUSTER_PORT_BASE", "16440"))

    # -- paths -------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.etcd_client}"

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def bin_dir(self) -> Path:
        digest = hashlib.sha256()
        for name in ("go.mod", "go.sum"):
            digest.update((MODULE / name).read_bytes())
        return self.cache / "controlplane" / f"{self.version}-{digest.hexdigest()[:12]}"

    @property
    def kwok_bin(self) -> Path:
        return self.cache / f"kwok-{KWOK_VERSION}" / "kwok"

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    def _binary(self, name: str) -> Path:
        return self.kwok_bin if name == "kwok" else self.bin_dir / name

    # -- build -------------------------------------------------------------------------------
    def build(self) -> None:
        """Builds whatever binary is missing from the cache; a no-op when all are there."""
        missing = [n for n in BINARIES if not self._binary(n).exists()]
        if not missing:
            return
        go = shutil.which("go")
        if go is None:
            raise ClusterError("Go is not installed (need go >= 1.26 on PATH): it builds the control plane")
        env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "auto")}
        started = time.monotonic()
        targets = {
            "etcd": "go.etcd.io/etcd/server/v3",
            "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
            "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
            "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
            "kubectl": "k8s.io/kubernetes/cmd/kubectl",
        }
        for name in missing:
            if name == "kwok":
                self._build_kwok(go, env)
                continue
            tmp = self.bin_dir / f".{name}.tmp"
            tmp.parent.mkdir(parents=True, exist_ok=True)
            print(f"building {name} ({self.version}) ...", file=sys.stderr, flush=True)
            cmd = [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(tmp), targets[name]]
            if subprocess.call(cmd, cwd=MODULE, env=env) != 0:
                raise ClusterError(f"go build of {name} failed (command: {' '.join(cmd)} in {MODULE})")
            tmp.rename(self._binary(name))
        print(f"built {', '.join(missing)} in {time.monotonic() - started:.0f}s", file=sys.stderr)

    def _build_kwok(self, go: str, env: dict[str, str]) -> None:
        out = self.kwok_bin.parent
        out.mkdir(parents=True, exist_ok=True)
        print(f"building kwok {KWOK_VERSION} ...", file=sys.stderr, flush=True)
        cmd = [go, "install", f"sigs.k8s.io/kwok/cmd/kwok@{KWOK_VERSION}"]
        if subprocess.call(cmd, env={**env, "GOBIN": str(out)}, cwd=out) != 0:
            raise ClusterError(f"go install of kwok failed (command: {' '.join(cmd)})")

    # -- certificates ------------------------------------------------------------------------
    def _pki(self) -> Path:
        pki = self.state / "pki"
        if (pki / "done").exists():
            return pki
        if shutil.which("openssl") is None:
            raise ClusterError("openssl is not installed: it makes the plane's certificates")
        pki.mkdir(parents=True, exist_ok=True)
        _openssl(
            pki,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=kaito-local-ca",
        )
        sans = (
            "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
            "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
        )
        _sign(pki, "apiserver", "/CN=kube-apiserver", sans)
        _sign(pki, "admin", "/O=system:masters/CN=kaito-admin")
        _sign(pki, "controller-manager", "/CN=system:kube-controller-manager")
        _sign(pki, "scheduler", "/CN=system:kube-scheduler")
        _openssl(pki, "genrsa", "-out", "sa.key", "2048")
        _openssl(pki, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")
        (pki / "done").write_text("")
        return pki

    # -- processes ---------------------------------------------------------------------------
    def _pid_file(self, name: str) -> Path:
        return self.state / "run" / f"{name}.pid"

    def _log_file(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """The pid of a running component started from this state directory, or None."""
        try:
            pid = int(self._pid_file(name).read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            cwd = Path(f"/proc/{pid}/cwd").resolve()
        except (OSError, ValueError):
            return None
        # A stale pid file may name a reused pid, or another checkout's plane (same binaries):
        # ours run in this state directory (see _start).
        ours = Path(cmdline).name == self._binary(name).name and cwd == self.state.resolve()
        return pid if ours else None

    def _start(self, name: str, args: list[str]) -> None:
        for folder in ("run", "logs"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        with self._log_file(name).open("ab") as log:
            proc = subprocess.Popen(
                [str(self._binary(name)), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.state,
                start_new_session=True,
            )
        self._pid_file(name).write_text(str(proc.pid))
        self._children[name] = proc

    def _stop(self, name: str, grace: float = 15.0) -> None:
        child = self._children.pop(name, None)
        if child is not None:
            child.terminate()
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        pid = self.pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.pid(name) is not None and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if self.pid(name) is not None:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10.0
                while self.pid(name) is not None:
                    if time.monotonic() > deadline:
                        raise ClusterError(f"{name} (pid {pid}) survived SIGKILL for 10 s")
                    _reap(pid)
                    time.sleep(0.05)
        self._pid_file(name).unlink(missing_ok=True)

    def _alive(self, name: str) -> bool:
        child = self._children.get(name)
        if child is not None:  # started by this process: the pid file may still show the forked Python
            return child.poll() is None
        return self.pid(name) is not None

    def _wait_healthy(self, name: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(name):
                raise ClusterError(
                    f"{name} exited during start-up; last lines of its log:\n{self._log_tail(name)}"
                )
            if self.healthy(name):
                return
            time.sleep(0.2)
        raise ClusterError(
            f"{name} was not healthy after {timeout:.0f}s; last lines of its log:\n{self._log_tail(name)}"
        )

    def _log_tail(self, name: str, lines: int = 25) -> str:
        try:
            return "\n".join(self._log_file(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- health ------------------------------------------------------------------------------
    def _admin_ssl(self) -> ssl.SSLContext:
        pki = self.state / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    def healthy(self, name: str) -> bool:
        """Asks the component's own health endpoint."""
        insecure = ssl._create_unverified_context()
        checks = {
            "etcd": (f"{self.etcd_url}/health", None),
            "kube-apiserver": (f"{self.api_url}/readyz", "admin"),
            "kube-controller-manager": (
                f"https://127.0.0.1:{self.ports.controller_manager}/healthz",
                insecure,
            ),
            "kube-scheduler": (f"https://127.0.0.1:{self.ports.scheduler}/healthz", insecure),
            "kwok": (f"http://127.0.0.1:{self.ports.kwok}/healthz", None),
        }
        url, context = checks[name]
        try:
            ctx = self._admin_ssl() if context == "admin" else context
            with urllib.request.urlopen(url, timeout=2, context=ctx) as response:  # type: ignore[arg-type]
                body = response.read()
        except (OSError, urllib.error.URLError, ssl.SSLError):
            return False
        return b"true" in body if name == "etcd" else body.strip() == b"ok"

    # -- lifecycle ---------------------------------------------------------------------------
    def _args(self, name: str, pki: Path) -> list[str]:
        state = self.state
        if name == "etcd":
            peer = f"http://127.0.0.1:{self.ports.etcd_peer}"
            return [
                f"--data-dir={state / 'etcd'}",
                "--name=default",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
                "--listen-metrics-urls=",
            ]
        if name == "kube-apiserver":
            return [
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.ports.apiserver}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                f"--cert-dir={state / 'pki'}",
            ]
        if name in ("kube-controller-manager", "kube-scheduler"):
            user = "controller-manager" if name == "kube-controller-manager" else "scheduler"
            config = state / f"{user}.kubeconfig"
            port = self.ports.controller_manager if user == "controller-manager" else self.ports.scheduler
            common = [
                f"--kubeconfig={config}",
                f"--authentication-kubeconfig={config}",
                f"--authorization-kubeconfig={config}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--leader-elect=false",
                f"--cert-dir={state / user}",
            ]
            if name == "kube-scheduler":
                return common
            return [
                *common,
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                "--node-monitor-grace-period=60s",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
            ]
        return [
            f"--kubeconfig={self.kubeconfig}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--server-address=127.0.0.1:{self.ports.kwok}",
            "--cidr=10.244.0.1/16",
            "--node-ip=10.244.0.1",
            "--node-lease-duration-seconds=40",
            f"--config={HACK / 'kwok' / 'stages.yaml'}",
        ]

    def _port_of(self, name: str) -> list[int]:
        return {
            "etcd": [self.ports.etcd_client, self.ports.etcd_peer],
            "kube-apiserver": [self.ports.apiserver],
            "kube-controller-manager": [self.ports.controller_manager],
            "kube-scheduler": [self.ports.scheduler],
            "kwok": [self.ports.kwok],
        }[name]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One up/down/restart at a time per state directory (the demo and the tests may race)."""
        self.state.mkdir(parents=True, exist_ok=True)
        with (self.state / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def up(self) -> None:
        """Starts every component that is not running and waits until each one is healthy."""
        with self._locked():
            self._up()

    def _up(self) -> None:
        if all(self.pid(n) is not None and self.healthy(n) for n in COMPONENTS):
            return
        for name in COMPONENTS:
            if self.pid(name) is None:
                for port in self._port_of(name):
                    if _port_busy(port):
                        raise ClusterError(
                            f"port 127.0.0.1:{port} (for {name}) is in use by another process; "
                            "stop it or set KAITO_CLUSTER_PORT_BASE to move the plane's ports"
                        )
        self.build()
        pki = self._pki()
        (self.state / "port-base").write_text(str(self.ports.base))
        self._write_kubeconfig(self.kubeconfig, "admin", pki)
        for user in ("controller-manager", "scheduler"):
            self._write_kubeconfig(self.state / f"{user}.kubeconfig", user, pki)
        fresh = all(self.pid(n) is None for n in COMPONENTS)
        started: list[str] = []
        try:
            for name in COMPONENTS:
                if self.pid(name) is None:
                    self._start(name, self._args(name, pki))
                    started.append(name)
                self._wait_healthy(name)
        except ClusterError:
            if fresh:
                self._down()
            else:  # leave what was running before this call, and its data, alone
                for name in reversed(started):
                    self._stop(name)
            raise

    def down(self) -> None:
        """Stops every component and deletes the cluster's data; certificates are kept."""
        with self._locked():
            self._down()

    def _down(self) -> None:
        for name in reversed(COMPONENTS):
            self._stop(name)
        shutil.rmtree(self.state / "etcd", ignore_errors=True)
        # The next up takes KAITO_CLUSTER_PORT_BASE afresh (the remembered base served this plane).
        (self.state / "port-base").unlink(missing_ok=True)

    def restart_apiserver(self) -> None:
        """Stops and starts kube-apiserver, returning once it is ready again."""
        with self._locked():
            self._stop("kube-apiserver")
            self._start("kube-apiserver", self._args("kube-apiserver", self.state / "pki"))
            self._wait_healthy("kube-apiserver")

    def status(self) -> dict[str, str]:
        """Each component's state: 'healthy', 'running, not healthy' or 'stopped'."""
        result = {}
        for name in COMPONENTS:
            if self.pid(name) is None:
                result[name] = "stopped"
            else:
                result[name] = "healthy" if self.healthy(name) else "running, not healthy"
        return result

    def _write_kubeconfig(self, path: Path, user: str, pki: Path) -> None:
        def b64(name: str) -> str:
            return base64.b64encode((pki / name).read_bytes()).decode()

        text = json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "kaito-local",
                "clusters": [
                    {
                        "name": "kaito-local",
                        "cluster": {"server": self.api_url, "certificate-authority-data": b64("ca.crt")},
                    }
                ],
                "users": [
                    {
                        "name": user,
                        "user": {
                            "client-certificate-data": b64(f"{user}.crt"),
                            "client-key-data": b64(f"{user}.key"),
                        },
                    }
                ],
                "contexts": [{"name": "kaito-local", "context": {"cluster": "kaito-local", "user": user}}],
            },
            indent=1,
        )
        # Created 0600, as it holds a client key (with the umask it would be world-readable until a
        # chmod), then moved into place so that a reader never sees it half written.
        partial = path.with_name(path.name + ".tmp")
        partial.unlink(missing_ok=True)
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(text)
        partial.replace(path)


def _openssl(pki: Path, *args: str) -> None:
    result = subprocess.run(["openssl", *args], cwd=pki, capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _sign(pki: Path, name: str, subject: str, sans: str | None = None) -> None:
    """Makes a key and a certificate signed by the local CA, with subjectAltNames if given."""
    _openssl(
        pki,
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        subject,
    )
    extra: list[str] = []
    if sans:
        (pki / f"{name}.ext").write_text(sans + "\n")
        extra = ["-extfile", f"{name}.ext"]
    _openssl(
        pki,
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-out",
        f"{name}.crt",
        *extra,
    )


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _reap(pid: int) -> None:
    """Collects a child that exited, so that it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def main(argv: list[str] | None = None) -> int:
    """The command line of hack/cluster.sh."""
    parser = argparse.ArgumentParser(
        prog="hack/cluster.sh", description="The local Kubernetes control plane."
    )
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "kubeconfig", "env", "build", "restart-apiserver", "kubectl"],
    )
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "kubectl":
        parser.error(f"unexpected arguments: {' '.join(rest)}")
    cluster = LocalCluster()
    try:
        if args.command == "kubectl":
            cluster.build()
            os.execv(cluster.kubectl, [str(cluster.kubectl), f"--kubeconfig={cluster.kubeconfig}", *rest])
        if args.command == "build":
            started = time.monotonic()
            cluster.build()
            print(f"binaries in {cluster.bin_dir} and {cluster.kwok_bin} ({time.monotonic() - started:.1f}s)")
        elif args.command == "up":
            started = time.monotonic()
            cluster.up()
            print(
                f"control plane {cluster.version} is up at {cluster.api_url} "
                f"({time.monotonic() - started:.1f}s)"
            )
            print(f"  export KUBECONFIG={cluster.kubeconfig}")
            print(
                "  kubectl get nodes    # kwok nodes appear when a Node with the annotation "
                "kwok.x-k8s.io/node=fake is created"
            )
        elif args.command == "down":
            cluster.down()
            print("control plane stopped; data removed")
        elif args.command == "status":
            states = cluster.status()
            for name, state in states.items():
                print(f"{name:25} {state}")
            return 0 if all(s == "healthy" for s in states.values()) else 1
        elif args.command == "kubeconfig":
            print(cluster.kubeconfig)
        elif args.command == "env":
            print(f"export KUBECONFIG={cluster.kubeconfig}")
        elif args.command == "restart-apiserver":
            cluster.restart_apiserver()
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
