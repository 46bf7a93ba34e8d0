"""hack/cluster.sh's plane starts, restarts idempotently and stops leaving nothing running.

Runs a second, private plane (own state directory and ports) beside the session's one.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))

from localcluster import COMPONENTS, LocalCluster


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_up_is_idempotent_and_down_leaves_nothing_running(tmp_path: Path) -> None:
    plane = LocalCluster(state_dir=tmp_path, port_base=17440)
    try:
        plane.up()
        assert plane.status() == dict.fromkeys(COMPONENTS, "healthy")
        pids = {name: plane.pid(name) for name in COMPONENTS}

        started = time.monotonic()
        LocalCluster(state_dir=tmp_path).up()  # a second `up`, from a new handle, changes nothing
        assert time.monotonic() - started < 5
        assert {name: plane.pid(name) for name in COMPONENTS} == pids
    finally:
        plane.down()
    assert plane.status() == dict.fromkeys(COMPONENTS, "stopped")
    for pid in pids.values():
        assert pid is not None
        assert not Path(f"/proc/{pid}").exists()
    assert not any(_listening(port) for port in range(17443, 17449))
    assert not (tmp_path / "etcd").exists()
