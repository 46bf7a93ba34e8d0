"""Predicates and event-to-request mappers."""

from kaito.kube import predicate as p
from kaito.kube.handler import EnqueueRequestForObject, EnqueueRequestForOwner
from kaito.kube.meta import ObjectMeta, OwnerReference
from kaito.kube.reconcile import Request

from .kinds import Thing


def obj(**meta):
    return Thing(metadata=ObjectMeta(name="a", namespace="ns", **meta))


def test_update_predicates_compare_old_and_new_and_reject_resyncs():
    old = obj(generation=1, labels={"a": "1"})
    assert p.generation_changed.update(old, obj(generation=2, labels={"a": "1"}))
    assert not p.generation_changed.update(old, obj(generation=1, labels={"a": "2"}))
    assert p.labels_changed.update(old, obj(generation=1, labels={"a": "2"}))
    assert p.deleting.update(old, obj(generation=1, deletion_timestamp="2026-01-01T00:00:00Z"))
    assert p.finalizers_changed.update(old, obj(finalizers=["x"]))
    assert not p.spec_or_metadata_changed.update(old, old)  # a resync: the same object
    assert p.spec_or_metadata_changed.create(old) and p.spec_or_metadata_changed.delete(old)


def test_combinators():
    yes, no = p.Predicate(), p.not_(p.Predicate())
    o = obj()
    assert p.or_(no, yes).create(o) and not p.and_(no, yes).create(o) and not no.update(o, o)


def test_owner_mapping_handles_cluster_scoped_owners_and_the_core_group():
    ref = OwnerReference(api_version="v1", kind="Node", name="n1", uid="u", controller=True)
    child = obj(owner_references=[ref])
    assert list(EnqueueRequestForOwner("", "Node", owner_namespaced=False).requests(child)) == [Request("n1")]
    assert list(EnqueueRequestForOwner("apps", "Node").requests(child)) == []
    assert list(EnqueueRequestForObject().requests(child)) == [Request("a", "ns")]
    assert str(Request("a", "ns")) == "ns/a" and str(Request("n1")) == "n1"


def test_non_controller_owners_map_only_when_asked():
    ref = OwnerReference(api_version="example.com/v1", kind="Thing", name="o", uid="u")
    child = obj(owner_references=[ref])
    assert list(EnqueueRequestForOwner("example.com", "Thing").requests(child)) == []
    mapper = EnqueueRequestForOwner("example.com", "Thing", only_controller=False)
    assert list(mapper.requests(child)) == [Request("o", "ns")]
