"""BATON/1 framing and the request check order (spec sections 3, 4.1, 4.2)."""

import json
import re

import pytest
import zmq

from helpers import enc

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
L = 4096  # --max-message-bytes of the broker these tests use


@pytest.fixture(scope="module")
def small_broker(module_broker_factory):
    return module_broker_factory(max_message_bytes=L)


@pytest.fixture
def raw(small_broker, raw_clients):
    return raw_clients(small_broker)


def error_of(reply):
    """(tag, code, message) of an ERROR reply as a DEALER receives it."""
    assert reply is not None, "no reply"
    assert len(reply) == 5, reply
    assert reply[0] == b"", reply
    assert reply[1] == b"BATON/1", reply  # whatever the request's frame 1 was (4.1)
    assert reply[2] == b"ERROR", reply
    body = json.loads(reply[4])
    assert set(body) == {"code", "message"}, body
    assert isinstance(body["message"], str)
    return reply[3], body["code"], body["message"]


# ------------------------------------------------------------------ replies


def test_ping_pong_echoes_tag_and_gives_broker_time(raw):
    reply = raw.roundtrip([b"", b"BATON/1", b"PING", b"c1-0001", b"{}"])
    assert reply[:4] == [b"", b"BATON/1", b"PONG", b"c1-0001"]
    body = json.loads(reply[4])
    assert TIMESTAMP.match(body["time"]), body


def test_req_socket_gets_reply_without_frame_0(small_broker, raw_clients):
    req = raw_clients(small_broker, socket_type=zmq.REQ)
    reply = req.roundtrip([b"BATON/1", b"PING", b"", b"{}"])
    assert reply is not None and len(reply) == 4, reply
    assert reply[:3] == [b"BATON/1", b"PONG", b""]
    assert TIMESTAMP.match(json.loads(reply[3])["time"])


def test_binary_and_empty_tags_are_echoed_byte_for_byte(raw):
    for tag in (b"", b"\x00\xff\xfe binary", b"x" * 64):
        reply = raw.roundtrip([b"", b"BATON/1", b"PING", tag, b"{}"])
        assert reply[2:4] == [b"PONG", tag]


def test_pipelined_requests_are_matched_by_tag(raw):
    for i in range(20):
        raw.send([b"", b"BATON/1", b"PING", f"p{i}".encode(), b"{}"])
    tags = sorted(raw.recv()[3] for _ in range(20))
    assert tags == sorted(f"p{i}".encode() for i in range(20))


def test_unknown_body_fields_and_nulls_are_ignored(raw):
    name, tag, body = raw.request("PING", {"future_field": 1, "other": None, "nested": {"x": [1, 2]}})
    assert name == "PONG"
    name, _, body = raw.request("LIST", {"limit": None, "state": None, "name": None, "before": None})
    assert name == "LIST" and body == {"workflows": []}


# ------------------------------------------------------------------ check 1: frame 0


def test_check1_frame0_not_empty_still_gets_a_reply(raw):
    tag, code, _ = error_of(raw.roundtrip([b"x", b"BATON/1", b"PING", b"t1", b"{}"]))
    assert code == "bad_request"
    assert tag == b"t1"


def test_check1_single_nonempty_frame(raw):
    tag, code, _ = error_of(raw.roundtrip([b"hello"]))
    assert code == "bad_request"
    assert tag == b""


# ------------------------------------------------------------------ check 2: frame 1


def test_check2_missing_frame1(raw):
    tag, code, _ = error_of(raw.roundtrip([b""]))
    assert code == "bad_request"
    assert tag == b""


# ------------------------------------------------------------------ check 3: version


@pytest.mark.parametrize("proto", [b"BATON/2", b"BATON/0", b"BATON-W/1", b"HTTP/1.1", b"baton/1", b""])
def test_check3_unsupported_version(raw, proto):
    tag, code, message = error_of(raw.roundtrip([b"", proto, b"PING", b"p9", b"{}"]))
    assert code == "unsupported_version"
    assert tag == b"p9"


def test_check3_before_frame_count(raw):
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/2", b"PING", b"p9"]))
    assert code == "unsupported_version"
    assert tag == b"p9"


# ------------------------------------------------------------------ check 4: frame count


@pytest.mark.parametrize("frames, tag", [
    ([b"", b"BATON/1"], b""),
    ([b"", b"BATON/1", b"PING"], b""),
    ([b"", b"BATON/1", b"PING", b"t4"], b"t4"),
    ([b"", b"BATON/1", b"PING", b"t6", b"{}", b"extra"], b"t6"),
])
def test_check4_exactly_five_frames(raw, frames, tag):
    got_tag, code, _ = error_of(raw.roundtrip(frames))
    assert code == "bad_request"
    assert got_tag == tag


def test_check4_before_command(raw):
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"NOPE", b"t"]))
    assert code == "bad_request"


# ------------------------------------------------------------------ check 5: tag length


def test_check5_tag_longer_than_64_bytes(raw):
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"PING", b"x" * 65, b"{}"]))
    assert code == "bad_request"
    assert tag == b""  # not echoed


def test_check5_before_command(raw):
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"NOPE", b"x" * 65, b"{}"]))
    assert code == "bad_request"
    assert tag == b""


# ------------------------------------------------------------------ check 6: command


@pytest.mark.parametrize("command", [b"ping", b"Ping", b"NOPE", b"PONG", b"ID", b"EVENTS", b"OK", b"ERROR", b"", b"READY"])
def test_check6_unknown_command(raw, command):
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", command, b"t6", b"{}"]))
    assert code == "unknown_command"
    assert tag == b"t6"


def test_check6_before_size_and_body(raw):
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"NOPE", b"t", b"not json"]))
    assert code == "unknown_command"
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"NOPE", b"t", b"x" * (L + 1)]))
    assert code == "unknown_command"


# ------------------------------------------------------------------ check 7: size


def padded(size):
    """A PING whose frames 0-4 total exactly `size` bytes."""
    head = [b"", b"BATON/1", b"PING", b"t8"]
    fixed = sum(len(f) for f in head) + len(b'{"pad":""}')
    return head + [b'{"pad":"' + b"x" * (size - fixed) + b'"}']


def test_check7_limit_counts_frames_0_to_4(raw):
    frames = padded(L)
    assert sum(len(f) for f in frames) == L
    assert raw.roundtrip(frames)[2] == b"PONG"
    tag, code, _ = error_of(raw.roundtrip(padded(L + 1)))
    assert code == "too_large"
    assert tag == b"t8"


def test_check7_before_field_checks(raw):
    big = {"workflow": {"name": "", "blocks": []}, "pad": "x" * L}
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"SUBMIT", b"t", enc(big)]))
    assert code == "too_large"


def test_frame_over_16L_is_dropped_without_reply(small_broker, raw_clients):
    c = raw_clients(small_broker)
    c.send([b"", b"BATON/1", b"PING", b"big", b'{"pad":"' + b"x" * (16 * L + 10) + b'"}'])
    assert c.recv(timeout=0.8) is None
    fresh = raw_clients(small_broker)
    assert fresh.request("PING", {})[0] == "PONG"


# ------------------------------------------------------------------ check 8: body


def nested(depth):
    """A body object whose nesting (arrays and objects, the body counted) is `depth`."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("body", [
    b"\xff\xfe",
    b"{\"a\":\"\xc3\"}",
    b"",
    b"{",
    b"not json",
    b"[]",
    b"\"text\"",
    b"42",
    b"null",
    b'{"a":1,"a":2}',
    b'{"x":{"b":1,"b":2}}',
    nested(65),
])
def test_check8_bad_body(raw, body):
    tag, code, message = error_of(raw.roundtrip([b"", b"BATON/1", b"PING", b"t7", body]))
    assert code == "bad_request"
    assert tag == b"t7"


def test_check8_invalid_utf8_message(raw):
    _, code, message = error_of(raw.roundtrip([b"", b"BATON/1", b"PING", b"t", b"\xff"]))
    assert (code, message) == ("bad_request", "body is not valid UTF-8")


def test_check8_nesting_64_is_accepted(raw):
    reply = raw.roundtrip([b"", b"BATON/1", b"PING", b"t", nested(64)])
    assert reply[2] == b"PONG", reply


def test_check7_size_before_body(raw):
    """A request that breaks both the size check (7) and the body check (8) gets
    too_large: the broker never parses what it would refuse."""
    body = b"[" + b"0," * (L // 2) + b"0]"  # invalid as a body (an array), and over L
    tag, code, message = error_of(raw.roundtrip([b"", b"BATON/1", b"PING", b"t", body]))
    assert (code, tag) == ("too_large", b"t"), message


# ------------------------------------------------------------------ check 10 for STOP and RESUME


def test_stop_and_resume_bodies_are_checked(raw):
    """Check 10 (the command's fields, 4.3.8): a bad STOP or RESUME body is bad_request.
    The stop itself is tested in test_stop.py."""
    for command, body in (("STOP", {}), ("STOP", {"name": "anything"}), ("RESUME", {}),
                          ("RESUME", {"name": ""})):
        tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", command.encode(), b"s", enc(body)]))
        assert (tag, code) == (b"s", "bad_request"), (command, body)


def test_stop_checks_1_to_9_still_apply(raw):
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"STOP", b"s", b"[]"]))
    assert code == "bad_request"
    tag, code, _ = error_of(raw.roundtrip([b"", b"BATON/1", b"STOP", b"s", b"{}", b"extra"]))
    assert code == "bad_request"
    tag, code, _ = error_of(raw.roundtrip(padded(L + 1)[:2] + [b"RESUME"] + padded(L + 1)[3:]))
    assert code == "too_large"
