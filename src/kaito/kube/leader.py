"""Leader election on a coordination.k8s.io/v1 Lease (client-go tools/leaderelection).

Defaults as controller-runtime: lease 15 s, renew deadline 10 s, retry 2 s (acquire retries
jittered by up to 1.2x). Acquire: create the Lease, or take it over once its holder has not renewed for a
lease duration measured on our own clock (never the timestamps in the object: clocks skew).
Renew: update renewTime every retry period; if no renewal succeeds within the renew deadline,
`LeaderElectionLost` is raised and the process must exit. `release()` hands the lease back on a
graceful stop. Each request times out after max(renew_deadline / 2, 1 s). Not fencing.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

import aiohttp
import msgspec

from kaito.kube import metrics as m
from kaito.kube.client import Client
from kaito.kube.clock import Clock, RealClock, within
from kaito.kube.errors import ApiError, NotFound
from kaito.kube.meta import ObjectMeta
from kaito.kube.resource import Resource

log = logging.getLogger(__name__)


class LeaseSpec(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """The complete LeaseSpec, so an Update loses nothing."""

    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """coordination.k8s.io/v1 Lease."""

    api_version: str = "coordination.k8s.io/v1"
    kind: str = "Lease"
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: LeaseSpec = msgspec.field(default_factory=LeaseSpec)


LEASES: Resource[Lease] = Resource("coordination.k8s.io", "v1", "leases", "Lease", True, Lease)


class LeaderElectionLost(Exception):
    """The lease could not be renewed within the renew deadline."""


def micro_time() -> str:
    """Now as a metav1.MicroTime string."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Acquires, renews and releases one Lease for `identity`."""

    def __init__(
        self,
        client: Client,
        name: str,
        namespace: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        if not lease_duration > renew_deadline > 1.2 * retry_period:
            raise ValueError(
                "lease_duration, renew_deadline, retry_period: "
                "need lease_duration > renew_deadline > 1.2 * retry_period"
            )
        if not identity:
            raise ValueError("identity: must not be empty")
        self.client, self.name, self.namespace, self.identity = client, name, namespace, identity
        self.lease_duration, self.renew_deadline, self.retry_period = (
            lease_duration,
            renew_deadline,
            retry_period,
        )
        self._clock = clock or RealClock()
        self._timeout = max(renew_deadline / 2, 1.0)
        self._observed: Lease | None = None
        self._observed_spec: LeaseSpec | None = None
        self._observed_time = 0.0
        self.is_leader = False
        self._status = m.LEADER_STATUS.labels(name)
        self._status.set(0)

    def _valid(self) -> bool:
        return self._observed_time + self.lease_duration > self._clock.now()

    async def _update(self, lease: Lease) -> Lease:
        return await self.client.update(LEASES, lease, request_timeout=self._timeout)

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True if we hold the lease afterwards."""
        now = micro_time()
        if self.is_leader and self._observed is not None and self._valid():
            spec = msgspec.structs.replace(self._observed.spec, renew_time=now)
            try:
                self._record(await self._update(msgspec.structs.replace(self._observed, spec=spec)))
                return True
            except ApiError as err:
                log.info("fast-path lease renew failed", extra={"lease": self.name, "error": str(err)})
                m.LEADER_SLOWPATH.labels(self.name).inc()
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace, request_timeout=self._timeout)
        except NotFound:
            spec = LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=round(self.lease_duration),
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            )
            body = Lease(metadata=ObjectMeta(name=self.name, namespace=self.namespace), spec=spec)
            self._record(await self.client.create(LEASES, body, request_timeout=self._timeout))
            return True
        if lease.spec != self._observed_spec:
            self._observed_spec = lease.spec
            self._observed_time = self._clock.now()
        self._observed = lease
        holder = lease.spec.holder_identity
        if holder and holder != self.identity and self._valid():
            return False
        mine = holder == self.identity
        spec = msgspec.structs.replace(
            lease.spec,
            holder_identity=self.identity,
            lease_duration_seconds=round(self.lease_duration),
            acquire_time=lease.spec.acquire_time if mine else now,
            renew_time=now,
            lease_transitions=(lease.spec.lease_transitions or 0) + (0 if mine else 1),
        )
        self._record(await self._update(msgspec.structs.replace(lease, spec=spec)))
        return True

    def _record(self, lease: Lease) -> None:
        self._observed = lease
        self._observed_spec = lease.spec
        self._observed_time = self._clock.now()

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (ApiError, aiohttp.ClientError, OSError, TimeoutError, msgspec.DecodeError) as err:
            log.info(
                "lease attempt failed", extra={"lease": self.name, "error": f"{type(err).__name__}: {err}"}
            )
            return False

    async def acquire(self) -> None:
        """Block until we hold the lease."""
        log.info("waiting for the lease", extra={"lease": self.name, "identity": self.identity})
        while not await self._attempt():
            await self._clock.sleep(self.retry_period * (1 + random.random() * 1.2))
        self.is_leader = True
        self._status.set(1)
        log.info("became leader", extra={"lease": self.name, "identity": self.identity})

    async def renew_forever(self) -> None:
        """Renew every retry period; raise LeaderElectionLost when the renew deadline passes.

        An attempt in flight at the deadline is cancelled (client-go's renew context), so a slow
        apiserver cannot keep this process leading after a standby may have taken over.
        """
        while True:
            deadline = self._clock.now() + self.renew_deadline
            while not await self._attempt_within(deadline - self._clock.now()):
                if self._clock.now() + self.retry_period >= deadline:
                    self.is_leader = False
                    self._status.set(0)
                    raise LeaderElectionLost(f"lease {self.namespace}/{self.name}: renew deadline exceeded")
                await self._clock.sleep(self.retry_period)
            await self._clock.sleep(self.retry_period)

    async def _attempt_within(self, seconds: float) -> bool:
        try:
            return await within(self._clock, seconds, self._attempt())
        except TimeoutError:
            log.info("lease renewal still pending at the renew deadline", extra={"lease": self.name})
            return False

    async def release(self) -> None:
        """Give the lease up (holder cleared, duration 1 s) so a standby takes over at once."""
        if not self.is_leader or self._observed is None:
            return
        self.is_leader = False
        self._status.set(0)
        now = micro_time()
        spec = LeaseSpec(
            lease_duration_seconds=1,
            acquire_time=now,
            renew_time=now,
            lease_transitions=self._observed.spec.lease_transitions,
        )
        try:
            await self._update(msgspec.structs.replace(self._observed, spec=spec))
            log.info("released the lease", extra={"lease": self.name})
        except Exception as err:  # a stop must go on: the lease then expires after its duration
            log.warning(
                "could not release the lease",
                extra={"lease": self.name, "error": f"{type(err).__name__}: {err}"},
            )
