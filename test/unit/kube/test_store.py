"""Indexed store and the reflector's backoff."""

import random

import pytest

from kaito.kube.backoff import Backoff
from kaito.kube.clock import FakeClock
from kaito.kube.meta import ObjectMeta, OwnerReference
from kaito.kube.store import Store, index_by_label, index_by_owner_uid

from .kinds import Thing


def obj(name, ns="ns", labels=None, owner=None, node=None):
    refs = (
        [OwnerReference(api_version="v1", kind="X", name="o", uid=owner, controller=True)] if owner else None
    )
    return Thing(
        metadata=ObjectMeta(name=name, namespace=ns, labels=labels, owner_references=refs),
        spec={"nodeName": node},
    )


def test_indexes_by_label_owner_uid_and_a_field_follow_updates_and_deletes():
    store = Store(
        {
            "app": index_by_label("app"),
            "owner": index_by_owner_uid(controller_only=True),
            "node": lambda o: [o.spec["nodeName"]] if o.spec and o.spec.get("nodeName") else [],
        }
    )
    store.upsert(obj("a", labels={"app": "x"}, owner="u1", node="n1"))
    store.upsert(obj("b", labels={"app": "x"}, node="n2"))
    assert store.index_keys("app", "x") == ["ns/a", "ns/b"]
    assert [o.metadata.name for o in store.by_index("owner", "u1")] == ["a"]
    store.upsert(obj("a", labels={"app": "y"}, owner="u1", node="n2"))  # moved: old index values go
    assert store.index_keys("app", "x") == ["ns/b"] and store.index_keys("node", "n2") == ["ns/a", "ns/b"]
    store.delete(obj("b"))
    assert store.index_keys("node", "n2") == ["ns/a"] and store.index_keys("namespace", "ns") == ["ns/a"]


def test_replace_returns_what_vanished_and_rebuilds_indexes():
    store = Store({"app": index_by_label("app")})
    store.upsert(obj("a", labels={"app": "x"}))
    store.upsert(obj("b", labels={"app": "x"}))
    gone = store.replace([obj("b", labels={"app": "z"}), obj("c", ns=None)])
    assert [o.metadata.name for o in gone] == ["a"]
    assert store.index_keys("app", "z") == ["ns/b"] and store.index_keys("app", "x") == []
    assert store.get("c") is not None and store.get_by_name("b", "ns") is not None


def test_an_indexer_added_later_indexes_existing_objects_and_names_must_be_unique():
    store = Store()
    store.upsert(obj("a", labels={"app": "x"}))
    store.add_indexer("app", index_by_label("app"))
    assert store.index_keys("app", "x") == ["ns/a"]
    with pytest.raises(ValueError, match="app"):
        store.add_indexer("app", index_by_label("other"))


def test_the_namespace_index_follows_adds_deletes_and_replaces_and_holds_cluster_scoped_objects_under_empty():
    store = Store({"app": index_by_label("app")})
    store.upsert(obj("a", ns="one", labels={"app": "x"}))
    store.upsert(obj("a", ns="one", labels={"app": "x"}))  # an update with equal index values
    store.upsert(obj("n", ns=None))
    assert store.index_keys("namespace", "one") == ["one/a"] and store.index_keys("namespace", "") == ["n"]
    assert store.index_keys("app", "x") == ["one/a"]
    store.delete(obj("a", ns="one"))
    assert store.index_keys("namespace", "one") == [] and store.index_keys("app", "x") == []
    store.replace([obj("b", ns="two")])
    assert store.index_keys("namespace", "") == [] and store.index_keys("namespace", "two") == ["two/b"]


def test_the_namespace_index_name_is_reserved_for_the_built_in_index():
    with pytest.raises(ValueError, match="namespace"):
        Store({"namespace": index_by_label("ns")})


async def test_backoff_doubles_from_0_8s_to_a_30s_cap_with_jitter_and_resets_after_2_minutes():
    clock = FakeClock()
    b = Backoff(clock=clock, rng=random.Random(1))
    delays = [b.next() for _ in range(8)]
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    assert all(base <= d < 2 * base for d, base in zip(delays, bases, strict=True))
    await clock.advance(119)
    assert b.next() >= 30.0  # not yet reset
    await clock.advance(120)
    assert b.next() < 1.6  # reset after 2 minutes without a backoff
