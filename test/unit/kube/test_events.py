"""Event recorder: core/v1 Events about an object, repeats aggregated into a count."""

import pytest

from kaito.kube.client import Client
from kaito.kube.events import EventRecorder

from .kinds import Thing


@pytest.fixture
def target():
    from kaito.kube.meta import ObjectMeta

    return Thing(metadata=ObjectMeta(name="ws", namespace="team", uid="u-1"))


async def test_an_event_names_the_object_reason_type_and_reporter(api, transport, target):
    rec = EventRecorder(Client(transport), "kaito-test", host="h1")
    rec.normal(target, "Created", "made a thing", kind="Thing", api_version="example.com/v1")
    await rec.flush()
    (event,) = [o for (p, _, _), o in api.objects.items() if p == "events"]
    assert event["metadata"]["namespace"] == "team"
    assert event["involvedObject"] == {
        "apiVersion": "example.com/v1", "kind": "Thing", "name": "ws", "namespace": "team", "uid": "u-1"
    }  # fmt: skip
    assert (event["reason"], event["type"], event["count"]) == ("Created", "Normal", 1)
    assert event["source"] == {"component": "kaito-test", "host": "h1"}


async def test_repeated_events_are_aggregated_into_one_with_a_count(api, transport, target):
    rec = EventRecorder(Client(transport), "kaito-test")
    for _ in range(3):
        rec.warning(target, "Failed", "quota exceeded")
    rec.warning(target, "Failed", "another message")
    await rec.flush()
    events = sorted((o["message"], o["count"]) for (p, _, _), o in api.objects.items() if p == "events")
    assert events == [("another message", 1), ("quota exceeded", 3)]


async def test_an_aggregated_event_that_was_deleted_is_recreated(api, transport, target):
    rec = EventRecorder(Client(transport), "kaito-test")
    rec.normal(target, "Ready", "ok")
    await rec.flush()
    (key,) = [k for k in api.objects if k[0] == "events"]
    await api.remove(key[0], key[2], key[1])
    rec.normal(target, "Ready", "ok")
    await rec.flush()
    assert [o["count"] for (p, _, _), o in api.objects.items() if p == "events"] == [1]


async def test_write_failures_are_logged_not_raised(api, transport, target, caplog):
    rec = EventRecorder(Client(transport), "kaito-test")
    api.fail_next("POST", 403, "Forbidden")
    rec.normal(target, "Ready", "ok")
    await rec.flush()
    assert "could not write event" in caplog.text


async def test_a_dropped_connection_loses_one_event_and_the_writer_goes_on(api, transport, target, caplog):
    import asyncio

    import aiohttp

    rec = EventRecorder(Client(transport), "kaito-test")
    real_write, calls = rec.write, []

    async def flaky_write(*args):
        calls.append(args)
        if len(calls) == 1:
            raise aiohttp.ServerDisconnectedError()  # a POST on a stale keep-alive connection
        return await real_write(*args)

    rec.write = flaky_write
    writer = asyncio.create_task(rec.run())
    rec.normal(target, "First", "lost")
    rec.normal(target, "Second", "kept")
    rec.close()
    await asyncio.wait_for(writer, 5)
    assert [o["reason"] for (p, _, _), o in api.objects.items() if p == "events"] == ["Second"]
    assert [r.error for r in caplog.records if r.msg == "could not write event"] == [
        "ServerDisconnectedError: Server disconnected"
    ]


def test_bad_event_arguments_name_the_field(transport, target):
    rec = EventRecorder(Client(transport), "kaito-test")
    with pytest.raises(ValueError, match="type"):
        rec.event(target, "Info", "R", "m")
    with pytest.raises(ValueError, match="reason"):
        rec.event(target, "Normal", "", "m")
