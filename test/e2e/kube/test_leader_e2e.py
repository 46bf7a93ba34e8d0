"""Leader election between two real OS processes on a real Lease: one leads, the standby takes
over within the lease after the leader is killed, and a graceful stop hands the lease over at once."""

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


class Proc:
    def __init__(self, proc: asyncio.subprocess.Process, identity: str) -> None:
        self.proc, self.identity = proc, identity
        self.lines: list[dict] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                self.lines.append({"msg": raw.decode(errors="replace")})

    def leading(self) -> bool:
        return any(line.get("msg") == "became leader" for line in self.lines)

    async def wait_leading(self, within: float) -> float:
        start = time.monotonic()
        while not self.leading():
            if time.monotonic() - start > within:
                raise AssertionError(f"{self.identity} did not lead within {within} s: {self.lines[-5:]}")
            if self.proc.returncode is not None:
                raise AssertionError(f"{self.identity} exited {self.proc.returncode}: {self.lines[-5:]}")
            await asyncio.sleep(0.1)
        return time.monotonic() - start


async def spawn(kubeconfig: Path, namespace: str, identity: str) -> Proc:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    script = Path(__file__).with_name("leader_proc.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(kubeconfig), namespace, "e2e-lock", identity,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    return Proc(proc, identity)


async def stop(p: Proc) -> None:
    if p.proc.returncode is None:
        p.proc.kill()
    await p.proc.wait()
    await p.reader


async def test_one_leader_and_the_standby_takes_over_within_the_lease_when_it_is_killed(
    kubeconfig, namespace
):
    a = await spawn(kubeconfig, namespace, "proc-a")
    b = None
    try:
        await a.wait_leading(60)
        b = await spawn(kubeconfig, namespace, "proc-b")
        await asyncio.sleep(8)  # b is up and polling; it must not lead while a renews
        assert not b.leading() and b.proc.returncode is None
        a.proc.send_signal(signal.SIGKILL)
        took = await b.wait_leading(40)
        # lease 15 s from b's last observation of a's renewal, plus a retry period (2 s, jitter 1.2)
        assert took <= 15 + 2 * 2.2 + 2, f"takeover took {took:.1f} s"
    finally:
        await stop(a)
        if b is not None:
            await stop(b)


async def test_a_graceful_stop_releases_the_lease_for_an_immediate_takeover(kubeconfig, namespace):
    a = await spawn(kubeconfig, namespace, "proc-a")
    b = None
    try:
        await a.wait_leading(60)
        b = await spawn(kubeconfig, namespace, "proc-b")
        await asyncio.sleep(5)
        assert not b.leading()
        a.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(a.proc.wait(), 35) == 0
        took = await b.wait_leading(20)
        assert took < 2 * 2.2 + 2, f"takeover after release took {took:.1f} s"
    finally:
        await stop(a)
        if b is not None:
            await stop(b)
