"""Watch stream decoding: line splitting across chunks, huge lines, bookmarks and ERROR events."""

import json

import pytest

from kaito.kube import errors
from kaito.kube.watch import BOOKMARK, EventDecoder

from .kinds import THINGS, thing


def line(kind, obj):
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def with_rv(obj, rv):
    obj["metadata"]["resourceVersion"] = rv
    return obj


def test_events_split_across_chunks_are_decoded_once_complete():
    dec = EventDecoder(THINGS)
    data = line("ADDED", with_rv(thing("a"), "5")) + line("MODIFIED", with_rv(thing("a", x=1), "6"))
    events = []
    for i in range(0, len(data), 7):
        events += dec.feed(data[i : i + 7])
    assert [(e.type, e.resource_version, e.object.spec) for e in events] == [
        ("ADDED", "5", {}),
        ("MODIFIED", "6", {"x": 1}),
    ]
    assert dec.finish() == []


def test_every_split_of_a_stream_into_two_chunks_gives_the_same_events():
    data = b"".join(line("MODIFIED", with_rv(thing("a", x=i), str(i))) for i in range(3))
    for cut in range(len(data) + 1):
        dec = EventDecoder(THINGS)
        events = dec.feed(data[:cut]) + dec.feed(data[cut:]) + dec.finish()
        assert [e.resource_version for e in events] == ["0", "1", "2"], f"cut at byte {cut}"


def test_a_line_of_several_mebibytes_parses():
    big = with_rv(thing("big", blob="x" * (6 << 20)), "9")
    dec = EventDecoder(THINGS)
    data = line("ADDED", big)
    events = [e for i in range(0, len(data), 1 << 16) for e in dec.feed(data[i : i + (1 << 16)])]
    assert len(events) == 1 and len(events[0].object.spec["blob"]) == 6 << 20


def test_bookmarks_carry_only_a_resource_version():
    (event,) = EventDecoder(THINGS).feed(
        line("BOOKMARK", {"kind": "Thing", "metadata": {"resourceVersion": "77"}})
    )
    assert (event.type, event.object, event.resource_version) == (BOOKMARK, None, "77")


def test_an_error_event_with_410_raises_gone():
    err = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}
    with pytest.raises(errors.Gone):
        EventDecoder(THINGS).feed(line("ERROR", err))


def test_other_error_events_raise_their_typed_error():
    with pytest.raises(errors.ServerError):
        EventDecoder(THINGS).feed(line("ERROR", {"kind": "Status", "code": 500, "reason": "InternalError"}))


def test_a_final_line_without_newline_is_decoded_at_the_end():
    dec = EventDecoder(THINGS)
    assert dec.feed(line("ADDED", with_rv(thing("a"), "3"))[:-1]) == []
    assert [e.object.metadata.name for e in dec.finish()] == ["a"]
