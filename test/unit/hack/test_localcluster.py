"""hack/localcluster.py fails fast, naming what is missing, instead of hanging."""

from __future__ import annotations

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
