"""A controller process for the leader-election e2e test: a Manager with leader election and one
controller on ConfigMaps; prints JSON log lines (the test waits for "became leader").

Run by path (`python test/e2e/kube/leader_proc.py KUBECONFIG NAMESPACE LOCK IDENTITY`) with src/ on
PYTHONPATH; self-contained because the stdlib's `test` package shadows ours for `python -m`."""

import asyncio
import logging
import sys

import msgspec

from kaito.kube import config, logs
from kaito.kube.controller import Controller
from kaito.kube.manager import Manager, ManagerOptions
from kaito.kube.meta import ObjectMeta
from kaito.kube.reconcile import Result
from kaito.kube.resource import Resource
from kaito.kube.transport import Transport


class ConfigMap(msgspec.Struct, kw_only=True, rename="camel", gc=False):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)


CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", True, ConfigMap)


class Noop:
    async def reconcile(self, req):
        return Result()


async def main(kubeconfig: str, namespace: str, lock: str, identity: str) -> int:
    logs.configure(logging.INFO, sys.stdout)
    async with Transport(await config.from_kubeconfig(kubeconfig)) as transport:
        opts = ManagerOptions(
            name="leader-e2e",
            namespace=namespace,
            leader_election=True,
            leader_election_id=lock,
            leader_election_namespace=namespace,
            identity=identity,
            health_port=0,
            graceful_shutdown_timeout=5,
        )
        mgr = Manager(transport, opts)
        mgr.add(Controller("leader-e2e", Noop()).for_(mgr.cache.informer(CONFIGMAPS)))
        return await mgr.run()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
