"""Reflector + informer against the fake API server: list/watch parameters, re-watch without
relist, relist on 410 with deletions recovered, handlers, indexes and transforms."""

import asyncio

import pytest

from kaito.kube.backoff import Backoff
from kaito.kube.cache import Cache
from kaito.kube.informer import LAST_APPLIED, FuncHandler, Informer, slim
from kaito.kube.store import index_by_label

from .kinds import THINGS, thing


async def eventually(pred, within=5.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Recorder:
    def __init__(self):
        self.events = []

    def handler(self):
        return FuncHandler(
            add=lambda o, initial: self.events.append(("add", o.metadata.name, initial)),
            update=lambda old, new: self.events.append(
                ("update", new.metadata.name, old.metadata.resource_version, new.metadata.resource_version)
            ),
            delete=lambda o: self.events.append(("delete", o.metadata.name)),
        )


@pytest.fixture
async def informer(transport):
    inf = Informer(transport, THINGS, indexers={"app": index_by_label("app")}, transform=slim())
    inf.reflector._backoff = Backoff(initial=0.01, cap=0.05)
    yield inf
    await inf.stop()


async def test_lists_in_pages_from_rv_0_then_watches_from_the_list_rv_with_bookmarks(api, informer):
    for i in range(3):
        await api.put("things", thing(f"t{i}"))
    informer.reflector.page_size = 2
    rec = Recorder()
    informer.add_event_handler(rec.handler())
    informer.start()
    assert await informer.wait_for_sync(5)
    lists = [r[2] for r in api.requests if r[2].get("watch") is None]
    assert lists[0] == {"limit": "2", "resourceVersion": "0"}
    assert "continue" in lists[1]
    await eventually(lambda: api.watch_timeouts)
    watch_q = next(r[2] for r in api.requests if r[2].get("watch") == "true")
    assert watch_q["allowWatchBookmarks"] == "true" and watch_q["resourceVersion"] == str(api.current_rv)
    assert 300 <= int(watch_q["timeoutSeconds"]) < 600
    assert sorted(rec.events) == [("add", f"t{i}", True) for i in range(3)]


async def test_watch_events_update_the_store_before_handlers_and_updates_get_the_old_object(api, informer):
    seen = []
    informer.add_event_handler(
        FuncHandler(
            update=lambda old, new: seen.append((old.spec, new.spec, informer.store.get("default/a").spec))
        )
    )
    await api.put("things", thing("a", v=1))
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    await api.put("things", thing("a", v=2))
    await eventually(lambda: seen)
    assert seen == [({"v": 1}, {"v": 2}, {"v": 2})]


async def test_bookmarks_advance_the_resource_version_but_reach_no_handler(api, informer):
    rec = Recorder()
    informer.add_event_handler(rec.handler())
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    await api.bookmark("things")
    await eventually(lambda: informer.reflector.last_rv == str(api.current_rv))
    assert rec.events == [] and len(informer.store) == 0


async def _watching_after_a_listed_and_a_watched_event(api, informer) -> str:
    """Starts the informer on one listed object, delivers one more by watch; returns the last RV."""
    await api.put("things", thing("a"))
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    await api.put("things", thing("b"))
    await eventually(lambda: informer.store.get("default/b") is not None)
    return informer.reflector.last_rv


async def test_a_normal_close_rewatches_from_the_last_rv_without_relisting(api, informer):
    rv_before = await _watching_after_a_listed_and_a_watched_event(api, informer)
    await api.close_watches()
    await eventually(lambda: informer.reflector.watches >= 2 and api.open_watches == 1)
    assert informer.reflector.lists == 1
    second_watch = [r[2] for r in api.requests if r[2].get("watch") == "true"][1]
    assert second_watch["resourceVersion"] == rv_before


async def test_a_stream_cut_mid_way_rewatches_from_the_last_rv_without_relisting(api, informer):
    rv_before = await _watching_after_a_listed_and_a_watched_event(api, informer)
    api.abort_watches()
    await eventually(lambda: informer.reflector.watches >= 2 and api.open_watches == 1)
    await api.put("things", thing("c"))
    await eventually(lambda: informer.store.get("default/c") is not None)
    assert informer.reflector.lists == 1
    assert [r[2] for r in api.requests if r[2].get("watch") == "true"][1]["resourceVersion"] == rv_before


async def test_429_on_a_watch_rewatches_after_a_backoff_without_relisting(api, informer):
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    await api.put("things", thing("during"))  # the watch carried an event: its close is normal
    await eventually(lambda: informer.store.get("default/during") is not None)
    api.fail_next("GET", 429, "TooManyRequests", path_contains="/things")
    api.fail_next("GET", 429, "TooManyRequests", path_contains="/things")
    informer.reflector._transport.max_retries = 0
    await api.close_watches()
    await eventually(lambda: informer.reflector.watches >= 4 and api.open_watches == 1)
    await api.put("things", thing("after"))
    await eventually(lambda: informer.store.get("default/after") is not None)
    assert informer.reflector.lists == 1


async def test_a_silent_half_open_watch_is_ended_by_the_read_timeout(api, transport, monkeypatch):
    from kaito.kube import watch as watchmod

    real = watchmod.watch
    monkeypatch.setattr(watchmod, "watch", lambda *a, **kw: real(*a, **{**kw, "read_timeout": 1.1}))
    inf = Informer(transport, THINGS)
    inf.start()
    try:
        await inf.wait_for_sync(5)
        await eventually(lambda: inf.reflector.watches >= 2, within=5)  # silent for 1.1 s: re-watch
        assert inf.reflector.lists == 1
    finally:
        await inf.stop()


async def test_410_relists_and_recovers_deletions_missed_while_disconnected(api, informer):
    rec = Recorder()
    informer.add_event_handler(rec.handler())
    await api.put("things", thing("stays"))
    await api.put("things", thing("goes"))
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    # The watch is cut, objects change while nobody watches, history is compacted away.
    api.max_watch_seconds = 0
    await api.close_watches()
    await eventually(lambda: api.open_watches == 0)
    watches = informer.reflector.watches
    await api.remove("things", "goes", "default")
    await api.put("things", thing("new"))
    await api.put("things", thing("stays", changed=True))
    api.compact()
    api.max_watch_seconds = 3600
    await eventually(lambda: informer.reflector.lists >= 2, within=10)
    await eventually(lambda: informer.store.get("default/new") is not None)
    assert sorted(informer.store.keys()) == ["default/new", "default/stays"]
    assert informer.reflector.expired >= 1
    assert ("delete", "goes") in rec.events and ("add", "new", False) in rec.events
    assert informer.reflector.watches > watches


async def test_an_error_event_in_the_stream_ends_the_watch_and_relists_without_crashing(api, informer):
    await api.put("things", thing("a"))
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    await api.watch_error("things", 500, "InternalError")
    await eventually(lambda: informer.reflector.lists >= 2)
    await api.put("things", thing("b"))
    await eventually(lambda: informer.store.get("default/b") is not None)


async def test_an_expired_list_makes_the_next_list_a_quorum_read(api, informer):
    informer.start()
    await informer.wait_for_sync(5)
    api.fail_next("GET", 410, "Expired", path_contains="/things")  # the re-watch answers 410 …
    # … the relist from the last RV is expired too, so the list after it asks for RV "".
    api.fail_next("GET", 410, "Expired", path_contains="/things")
    await api.close_watches()
    await eventually(lambda: informer.reflector.lists >= 2, within=10)
    plain_lists = [r[2] for r in api.requests if r[2].get("watch") is None]
    assert plain_lists[-1].get("resourceVersion", "") == ""


async def test_a_watch_that_closes_at_once_with_no_events_backs_off(api, informer):
    api.max_watch_seconds = 0
    informer.start()
    await informer.wait_for_sync(5)
    await asyncio.sleep(0.3)
    # backoff 10 ms doubling to 50 ms: a handful of watches, not hundreds
    assert 1 <= informer.reflector.watches < 30


async def test_indexes_and_the_transform_apply_to_cached_objects(api, informer):
    obj = thing("a")
    obj["metadata"]["labels"] = {"app": "web"}
    obj["metadata"]["annotations"] = {LAST_APPLIED: "{...}", "keep": "me", "huge": "x" * 5000}
    await api.put("things", obj)
    await api.put("things", thing("b"))
    informer.start()
    await informer.wait_for_sync(5)
    assert [o.metadata.name for o in informer.store.by_index("app", "web")] == ["a"]
    assert informer.store.get("default/a").metadata.annotations == {"keep": "me"}
    with pytest.raises(KeyError, match="nodeName"):
        informer.store.by_index("nodeName", "x")


async def test_a_handler_added_after_sync_is_told_of_every_cached_object(api, informer):
    await api.put("things", thing("a"))
    informer.start()
    await informer.wait_for_sync(5)
    rec = Recorder()
    informer.add_event_handler(rec.handler())
    assert rec.events == [("add", "a", True)]


async def test_a_failing_handler_does_not_stop_the_informer(api, informer):
    def boom(obj, initial):
        raise RuntimeError("handler bug")

    informer.add_event_handler(FuncHandler(add=boom))
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    await api.put("things", thing("a"))
    await eventually(lambda: informer.store.get("default/a") is not None)


async def test_stop_closes_the_watch_connection(api, informer):
    informer.start()
    await informer.wait_for_sync(5)
    await eventually(lambda: api.open_watches == 1)
    await informer.stop()
    await eventually(lambda: api.open_watches == 0)


async def test_resync_replays_cached_objects_as_updates_with_the_same_object(api, transport):
    await api.put("things", thing("a"))
    inf = Informer(transport, THINGS, resync_period=0.05)
    seen = []
    inf.add_event_handler(FuncHandler(update=lambda old, new: seen.append(old is new)))
    inf.start()
    try:
        await eventually(lambda: len(seen) >= 2)
        assert all(seen)
    finally:
        await inf.stop()


async def test_the_cache_shares_one_informer_per_type_and_reads_by_namespace_and_labels(api, transport):
    obj = thing("a", ns="one")
    obj["metadata"]["labels"] = {"tier": "x"}
    await api.put("things", obj)
    await api.put("things", thing("b", ns="two"))
    cache = Cache(transport)
    assert cache.informer(THINGS) is cache.informer(THINGS)
    reader = cache.reader(THINGS)
    cache.start()
    try:
        assert await cache.wait_for_sync(5) and cache.has_synced
        assert reader.get("a", "one").metadata.name == "a"
        assert reader.get("a", "two") is None
        assert [o.metadata.name for o in reader.list("two")] == ["b"]
        assert [o.metadata.name for o in reader.list(labels={"tier": "x"})] == ["a"]
    finally:
        await cache.stop()


def test_slim_can_keep_only_annotations_under_given_prefixes():
    from kaito.kube.meta import ObjectMeta

    from .kinds import Thing

    t = Thing(metadata=ObjectMeta(name="a", namespace="ns", annotations={"kaito.sh/x": "1", "other/y": "2"}))
    assert slim(keep_annotation_prefixes=("kaito.sh/",))(t).metadata.annotations == {"kaito.sh/x": "1"}
    t2 = Thing(metadata=ObjectMeta(name="b", namespace="ns", annotations={"other/y": "2"}))
    assert slim(keep_annotation_prefixes=("kaito.sh/",))(t2).metadata.annotations is None
