"""hack/localcluster.py fails fast, naming what is missing, instead of hanging."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "hack"))

from localcluster import COMPONENTS, ClusterError, LocalCluster


@pytest.fixture
def fresh(tmp_path: Path) -> LocalCluster:
    """A cluster handle with empty state and binary cache, on ports nothing else uses."""
    return LocalCluster(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", port_base=18440)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 18443))  # the apiserver's port at base 18440
    sock.listen()
    yield sock
    sock.close()


def test_a_cluster_that_was_never_started_reports_every_component_stopped(fresh: LocalCluster) -> None:
    assert fresh.status() == dict.fromkeys(COMPONENTS, "stopped")


def test_up_refuses_a_busy_port_and_names_it(fresh: LocalCluster, listener: socket.socket) -> None:
    with pytest.raises(ClusterError, match=r"port 127\.0\.0\.1:18443 \(for kube-apiserver\) is in use"):
        fresh.up()


def test_build_without_go_says_go_is_missing(fresh: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ClusterError, match="Go is not installed"):
        fresh.build()


def test_a_failed_build_names_the_component_and_command(
    fresh: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "go").write_text("#!/bin/sh\necho 'compile error' >&2\nexit 1\n")
    (fake_bin / "go").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_bin))
    with pytest.raises(ClusterError, match=r"go build of etcd failed \(command: .*go build .*etcd/server/v3"):
        fresh.build()


def test_certificates_without_openssl_say_openssl_is_missing(
    fresh: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ClusterError, match="openssl is not installed"):
        fresh._pki()


def test_the_port_base_a_cluster_started_with_is_remembered_by_its_state_directory(tmp_path: Path) -> None:
    (tmp_path / "port-base").write_text("19440")
    assert LocalCluster(state_dir=tmp_path).ports.apiserver == 19443
    assert LocalCluster(state_dir=tmp_path, port_base=20440).ports.apiserver == 20443


def test_down_forgets_the_port_base_so_the_next_up_takes_the_environment_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "port-base").write_text("19440")
    LocalCluster(state_dir=tmp_path).down()
    monkeypatch.setenv("KAITO_CLUSTER_PORT_BASE", "20440")
    assert LocalCluster(state_dir=tmp_path).ports.apiserver == 20443


def test_a_pid_file_naming_a_process_of_another_directory_counts_as_stopped(
    fresh: LocalCluster, tmp_path: Path
) -> None:
    import subprocess

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fake_etcd = tmp_path / "bin" / "etcd"  # same binary name as ours, started from another directory
    fake_etcd.parent.mkdir()
    fake_etcd.symlink_to(Path("/bin/sleep"))
    proc = subprocess.Popen([str(fake_etcd), "30"], cwd=elsewhere)
    try:
        (fresh.state / "run").mkdir(parents=True)
        (fresh.state / "run" / "etcd.pid").write_text(str(proc.pid))
        assert fresh.pid("etcd") is None
        fresh.down()  # must not signal a process it does not own
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_kubeconfigs_are_private_from_the_moment_they_exist(fresh: LocalCluster, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    for name in ("ca.crt", "admin.crt", "admin.key"):
        (pki / name).write_text(name)
    opened: list[int] = []
    real_open = os.open

    def spy(path: str, flags: int, mode: int = 0o777) -> int:
        opened.append(mode)
        return real_open(path, flags, mode)

    target = tmp_path / "kubeconfig"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "open", spy)
        fresh._write_kubeconfig(target, "admin", pki)
    assert opened == [0o600] and (target.stat().st_mode & 0o777) == 0o600
