"""The Python client SDK: Lazy Pirate retries, REQ sockets, errors, WATCH resumption,
and the journaled handshake, compatible with the Swift CLI's journal (spec 10.1, 10.4)."""

import json
import os
import stat
import subprocess
import threading
import time
import uuid
import warnings

import pytest

from baton import (
    BatonError,
    Client,
    Conflict,
    Journal,
    ProtocolError,
    Timeout,
    Unavailable,
    normalize_spec,
    same_spec,
)
from baton import Worker
from baton.journal import Entry
from helpers import FakeBroker, LossyProxy, enc, events_of, job, kinds, wait_state, wait_until, workflow


def unique(prefix="wf"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fakes():
    made = []

    def make(respond):
        f = FakeBroker(respond)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


def pong(req):
    return [b"", b"BATON/1", b"PONG", req[3], b'{"time":"2026-11-28T12:00:00.000Z"}']


# ------------------------------------------------------------------ Lazy Pirate (10.4)


def test_timeout_retries_on_a_fresh_socket(fakes):
    seen = []

    def respond(req):
        seen.append(req)
        return None if len(seen) == 1 else pong(req)  # the first request is "lost"

    fake = fakes(respond)
    with Client(fake.endpoint, timeout=0.3, retries=3) as c:
        assert c.ping()["time"] == "2026-11-28T12:00:00.000Z"
    assert len(fake.received) == 2
    (rid1, r1), (rid2, r2) = fake.received
    assert rid1 != rid2, "the retry must come from a fresh socket"
    assert r1[:3] == r2[:3] == [b"", b"BATON/1", b"PING"]


def test_gives_up_after_bounded_tries_with_timeout(fakes):
    fake = fakes(lambda req: None)
    c = Client(fake.endpoint, timeout=0.15, retries=3)
    t = time.monotonic()
    with pytest.raises(Timeout) as e:
        c.status("X")
    took = time.monotonic() - t
    c.close()
    assert e.value.code == "timeout" and isinstance(e.value, BatonError)
    assert len(fake.received) == 3
    assert 0.4 <= took < 1.5


def test_late_reply_with_other_tag_is_discarded(fakes):
    def respond(req):
        stale = [b"", b"BATON/1", b"PONG", b"someone-else", b'{"time":"stale"}']
        return [stale, pong(req)]

    fake = fakes(respond)
    with Client(fake.endpoint, timeout=1.0) as c:
        assert c.ping()["time"] != "stale"


def test_unknown_error_code_is_treated_as_unavailable(fakes):
    fake = fakes(lambda req: [b"", b"BATON/1", b"ERROR", req[3], b'{"code":"brand_new","message":"later"}'])
    with Client(fake.endpoint, timeout=1.0) as c:
        with pytest.raises(Unavailable) as e:
            c.ping()
    assert (e.value.code, e.value.message, e.value.retryable) == ("brand_new", "later", True)


def test_every_spec_error_code_maps_to_a_class(fakes):
    import baton

    expected = {"bad_request": baton.BadRequest, "unsupported_version": baton.UnsupportedVersion,
                "unknown_command": baton.UnknownCommand, "too_large": baton.TooLarge,
                "not_found": baton.NotFound, "conflict": baton.Conflict,
                "policy_denied": baton.PolicyDenied, "stopped": baton.Stopped,
                "forbidden": baton.Forbidden, "unavailable": baton.Unavailable,
                "rate_limited": baton.RateLimited}
    code = {}
    fake = fakes(lambda req: [b"", b"BATON/1", b"ERROR", req[3], enc({"code": code["c"], "message": "m"})])
    with Client(fake.endpoint, timeout=1.0) as c:
        for name, cls in expected.items():
            code["c"] = name
            with pytest.raises(cls) as e:
                c.ping()
            assert e.value.code == name and e.value.message == "m"


def test_error_fields_beyond_code_and_message_are_kept(fakes):
    """Section 8: rate_limited carries retry_after_ms, policy_denied policy and rule,
    stopped name and reason; unknown fields are kept in details, not acted on."""
    import baton

    reply = {}
    fake = fakes(lambda req: [b"", b"BATON/1", b"ERROR", req[3], enc(reply["body"])])
    with Client(fake.endpoint, timeout=1.0) as c:
        def error(body):
            reply["body"] = body
            with pytest.raises(BatonError) as e:
                c.ping()
            return e.value

        e = error({"code": "rate_limited", "message": "m", "retry_after_ms": 1500, "later": [1]})
        assert isinstance(e, baton.RateLimited) and e.retryable
        assert (e.retry_after_ms, e.details) == (1500, {"retry_after_ms": 1500, "later": [1]})
        for bad in (0, -1, 1.5, "1500", True, None):
            assert error({"code": "rate_limited", "message": "m", "retry_after_ms": bad}).retry_after_ms is None
        assert error({"code": "rate_limited", "message": "m"}).retry_after_ms is None
        e = error({"code": "policy_denied", "message": "m", "policy": "p", "rule": "window"})
        assert isinstance(e, baton.PolicyDenied) and (e.policy, e.rule) == ("p", "window")
        e = error({"code": "policy_denied", "message": "m", "rule": "default"})
        assert (e.policy, e.rule) == (None, "default")
        e = error({"code": "stopped", "message": "m", "name": "*", "reason": "drill"})
        assert isinstance(e, baton.Stopped) and (e.name, e.reason) == ("*", "drill")
        e = error({"code": "brand_new", "message": "m", "retry_after_ms": 10})
        assert isinstance(e, Unavailable) and (e.code, e.retry_after_ms) == ("brand_new", 10)
        assert error({"code": "not_found", "message": "m"}).details == {}


def test_wrong_reply_kind_is_a_protocol_error(fakes):
    fake = fakes(lambda req: [b"", b"BATON/1", b"LIST", req[3], b'{"workflows":[]}'])
    with Client(fake.endpoint, timeout=1.0) as c:
        with pytest.raises(ProtocolError):
            c.ping()


def test_req_socket_retries_too(fakes):
    seen = []

    def respond(req):
        seen.append(req)
        return None if len(seen) == 1 else pong(req)

    fake = fakes(respond)
    with Client(fake.endpoint, timeout=0.3, socket_type="req") as c:
        c.ping()
        c.ping()  # a REQ socket is usable again after a reply
    assert len(seen) == 3


def test_lost_submit_reply_is_safe_to_retry(broker):
    """The broker stored the workflow but its ID reply was lost: the retry (same
    generated key, fresh socket) gets the same id, and only one workflow exists."""
    proxy = LossyProxy(broker.client_endpoint, drop=1)
    name = unique()
    try:
        with Client(proxy.endpoint, timeout=0.5, retries=3) as c:
            s = c.submit(workflow([job("echo")], name=name))
        assert s.duplicate is True and proxy.requests == 2
        with broker.client() as direct:
            assert [w["id"] for w in direct.list(name=name)["workflows"]] == [s.id]
            # EXEC whose reply is lost: resending starts nothing twice
            proxy.drop = 1
            with Client(proxy.endpoint, timeout=0.5, retries=3) as c:
                assert c.exec(s.id)["state"] == "RUNNING"
            assert kinds(events_of(direct, s.id)) == ["workflow.submitted", "workflow.running", "block.started"]
    finally:
        proxy.close()


# ------------------------------------------------------------------ against the real broker


def test_req_client_full_handshake(broker, swift_worker):
    swift_worker(broker)
    with broker.client(socket_type="req") as c:
        s = c.submit(workflow([job("echo", {"message": "via REQ"})]))
        assert s.state == "SUBMITTED" and not s.duplicate
        assert c.exec(s.id)["state"] == "RUNNING"
        ev = list(c.watch(s.id, wait=2.0))
        assert ev[-1]["kind"] == "workflow.succeeded"
        assert c.status(s.id)["blocks"][0]["jobs"][0]["output"] == {"message": "via REQ"}
        assert c.cancel(s.id)["state"] == "SUCCEEDED"
        assert c.list(limit=1)["workflows"][0]["id"] == s.id
        with pytest.raises(Conflict):
            c.submit(workflow([job("sleep")]), s.idempotency_key)


def test_submit_always_sends_a_key(broker):
    with broker.client() as c:
        s = c.submit(workflow([job("echo")]))
        assert s.idempotency_key
        again = c.submit(workflow([job("echo")]), s.idempotency_key)
        assert (again.id, again.duplicate) == (s.id, True)


def test_watch_is_resumable_from_a_sequence_number(broker, swift_worker):
    swift_worker(broker)
    with broker.client() as c:
        s = c.submit(workflow([job("sleep", {"ms": 50})], [job("echo")], [job("echo")]))
        c.exec(s.id)
        gen = c.watch(s.id, wait=2.0)
        first = [next(gen) for _ in range(4)]
        gen.close()  # the "crash"
        rest = list(c.watch(s.id, after=first[-1]["seq"], wait=2.0))
        full = first + rest
        assert [e["seq"] for e in full] == list(range(1, len(full) + 1))
        assert full[-1]["kind"] == "workflow.succeeded"
        assert full == events_of(c, s.id)
        # not following: stops at the last stored event
        assert list(c.watch(s.id, after=3, follow=False)) == full[3:]


def test_watch_follows_until_final(broker, swift_worker):
    swift_worker(broker)
    with broker.client() as c:
        s = c.submit(workflow([job("sleep", {"ms": 300})]))
        c.exec(s.id)
        seen = list(c.watch(s.id, wait=5.0))
        assert seen[-1]["kind"] == "workflow.succeeded"


# ------------------------------------------------------------------ the journaled handshake


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_run_journals_every_step(broker, swift_worker, tmp_path):
    swift_worker(broker)
    j = tmp_path / "j" / "journal.jsonl"
    spec = workflow([job("echo", {"x": 1})], name="journaled")
    with broker.client() as c:
        seen = []
        final = c.run(spec, journal=j, on_event=seen.append)
    assert final["state"] == "SUCCEEDED"
    assert seen[-1]["kind"] == "workflow.succeeded"
    got = lines(j)
    assert [x["step"] for x in got] == ["submitting", "submitted", "exec", "finished"]
    key = got[0]["key"]
    assert all(x["key"] == key for x in got)
    assert got[0]["spec"] == normalize_spec(spec) and "id" not in got[0]
    assert all(x["id"] == final["id"] for x in got[1:])
    assert got[-1]["state"] == "SUCCEEDED"
    assert all(x["file"] == "<python>" for x in got)
    assert Journal(j).unfinished() == []


def test_run_reattaches_instead_of_submitting_again(broker, swift_worker, tmp_path):
    """A crash after SUBMIT reached the broker but before the id was journaled: the same
    key gets the same id. A crash after the id: EXEC it. Nothing runs twice."""
    j = str(tmp_path / "journal.jsonl")
    spec = workflow([job("echo", {"n": 1})], name=unique())
    with broker.client() as c:
        key = "crashed-" + uuid.uuid4().hex
        stored = c.submit(spec, key)  # reached the broker; the client "died" before journaling
        Journal(j).append(Entry(key=key, file="wf.json", spec=spec), "submitting")
        swift_worker(broker)
        final = c.run(spec, journal=j)
        assert final["id"] == stored.id and final["state"] == "SUCCEEDED"
        assert len(c.list(name=spec["name"])["workflows"]) == 1
        assert [x["step"] for x in lines(j)] == ["submitting", "submitting", "submitted", "exec", "finished"]
        # an id journaled, never EXEC'd
        spec2 = workflow([job("echo", {"n": 2})], name=unique())
        s2 = c.submit(spec2, "k2-" + uuid.uuid4().hex)
        e2 = Entry(key=s2.idempotency_key, file="wf2.json", spec=spec2, id=s2.id)
        Journal(j).append(e2, "submitting")
        Journal(j).append(e2, "submitted")
        final2 = c.run(spec2, journal=j)
        assert final2["id"] == s2.id and final2["state"] == "SUCCEEDED"
        # the same spec again after it finished: a new workflow
        again = c.run(spec2, journal=j)
        assert again["id"] != s2.id and again["state"] == "SUCCEEDED"


def test_run_with_key_never_submitted_submits_it(broker, swift_worker, tmp_path):
    swift_worker(broker)
    j = str(tmp_path / "journal.jsonl")
    spec = workflow([job("echo")], name=unique())
    Journal(j).append(Entry(key="never-sent-" + uuid.uuid4().hex, file="x", spec=spec), "submitting")
    with broker.client() as c:
        final = c.run(spec, journal=j)
        assert final["state"] == "SUCCEEDED"
        s = c.submit(spec, lines(j)[0]["key"])
        assert s.duplicate and s.id == final["id"]


def test_resume_completes_every_unfinished_entry(broker, swift_worker, tmp_path):
    j = str(tmp_path / "journal.jsonl")
    with broker.client() as c:
        # entry 1: only the key; entry 2: submitted; entry 3: running
        specs = [workflow([job("echo", {"i": i})], name=unique()) for i in range(3)]
        e1 = Entry(key="r1-" + uuid.uuid4().hex, file="a", spec=specs[0])
        Journal(j).append(e1, "submitting")
        s2 = c.submit(specs[1])
        e2 = Entry(key=s2.idempotency_key, file="b", spec=specs[1], id=s2.id)
        Journal(j).append(e2, "submitting")
        Journal(j).append(e2, "submitted")
        s3 = c.submit(specs[2])
        c.exec(s3.id)
        e3 = Entry(key=s3.idempotency_key, file="c", spec=specs[2], id=s3.id)
        for step in ("submitting", "submitted", "exec"):
            Journal(j).append(e3, step)
        with open(j, "ab") as f:
            f.write(b'{"step":"submitted","key":"torn')  # a crash mid-line
        assert [e.key for e in Journal(j).unfinished()] == [e1.key, e2.key, e3.key]
        swift_worker(broker)
        finals = c.resume(j)
        assert [f["state"] for f in finals] == ["SUCCEEDED"] * 3
        assert [f["id"] for f in finals][1:] == [s2.id, s3.id]
        assert Journal(j).unfinished() == []
        assert c.resume(j) == []


def test_expired_entry_starts_again_with_a_new_key(broker_factory, swift_worker, tmp_path):
    b = broker_factory(ttl_seconds=1)
    j = str(tmp_path / "journal.jsonl")
    spec = workflow([job("echo")], name=unique())
    with b.client() as c:
        s = c.submit(spec)
        e = Entry(key=s.idempotency_key, file="x", spec=spec, id=s.id)
        Journal(j).append(e, "submitting")
        Journal(j).append(e, "submitted")
        wait_state(c, s.id, "EXPIRED", timeout=5)
        swift_worker(b)
        final = c.run(spec, journal=j)
        assert final["state"] == "SUCCEEDED" and final["id"] != s.id
        steps = lines(j)
        assert any(x["step"] == "finished" and x["state"] == "EXPIRED" and x["key"] == s.idempotency_key for x in steps)
        assert len({x["key"] for x in steps}) == 2


def test_run_accepts_a_workflow_file(broker, swift_worker, tmp_path):
    swift_worker(broker)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "hello.json")
    j = str(tmp_path / "journal.jsonl")
    with broker.client() as c:
        final = c.run(path, journal=j)
    assert final["state"] == "SUCCEEDED" and final["name"] == "hello"
    assert lines(j)[0]["file"].endswith("hello.json")


def test_same_spec_comparison():
    a = {"name": "x", "blocks": [{"jobs": [{"type": "t", "args": {"n": 3}}]}]}
    b = {"blocks": [{"concurrency": 1.0, "extra": 1, "jobs": [{"type": "t", "args": {"n": 3}, "timeout_ms": 0,
                                                             "retry": {"max_attempts": 3}}]}], "name": "x"}
    assert same_spec(a, b)
    assert not same_spec(a, {"name": "x", "blocks": [{"jobs": [{"type": "t", "args": {"n": 3.0}}]}]})
    assert not same_spec(a, {"name": "y", "blocks": a["blocks"]})
    # heartbeat_timeout_ms counts only when set, as in the broker's canonical form
    hb0 = {"name": "x", "blocks": [{"jobs": [{"type": "t", "args": {"n": 3}, "heartbeat_timeout_ms": 0}]}]}
    hb5 = {"name": "x", "blocks": [{"jobs": [{"type": "t", "args": {"n": 3}, "heartbeat_timeout_ms": 5000}]}]}
    assert same_spec(a, hb0) and not same_spec(a, hb5)


# ------------------------------------------------------------------ journal compatibility with the Swift CLI


def baton_cli(baton_bin, broker, *args, timeout=30):
    return subprocess.run([baton_bin, *args, "--broker", broker.client_endpoint, "--timeout-ms", "2000"],
                          capture_output=True, text=True, timeout=timeout)


def test_swift_resume_reads_a_python_journal(broker, swift_worker, baton_bin, tmp_path):
    j = str(tmp_path / "journal.jsonl")
    spec = workflow([job("echo", {"from": "python journal"})], name=unique())
    with broker.client() as c:
        s = c.submit(spec)
        e = Entry(key=s.idempotency_key, file="py.json", spec=spec, id=s.id)
        Journal(j).append(e, "submitting")
        Journal(j).append(e, "submitted")
        swift_worker(broker)
        r = baton_cli(baton_bin, broker, "resume", "--journal", j)
        assert r.returncode == 0, r.stdout + r.stderr
        assert c.status(s.id)["state"] == "SUCCEEDED"
        assert len(c.list(name=spec["name"])["workflows"]) == 1
    assert Journal(j).unfinished() == []
    r = baton_cli(baton_bin, broker, "resume", "--journal", j)
    assert r.returncode == 0 and "nothing to resume" in r.stdout


def test_python_resumes_a_swift_journal(broker, swift_worker, baton_bin, procs, tmp_path):
    """`baton run` is killed while its workflow waits for a worker; Python re-attaches."""
    j = str(tmp_path / "journal.jsonl")
    spec = workflow([job("echo", {"from": "swift journal"})], name=unique())
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(spec))
    run = procs.spawn([baton_bin, "run", str(path), "--journal", j, "--broker", broker.client_endpoint],
                      tmp_path / "run.log")
    wait_until(lambda: os.path.exists(j) and any(x["step"] == "exec" for x in lines(j)), 10, message="baton run to EXEC")
    run.kill()
    run.wait()
    pending = Journal(j).unfinished()
    assert len(pending) == 1 and pending[0].id and same_spec(pending[0].spec, spec)
    swift_worker(broker)
    with broker.client() as c:
        final = c.run(spec, journal=j)  # the same spec: re-attached, not submitted again
        assert final["id"] == pending[0].id and final["state"] == "SUCCEEDED"
        assert len(c.list(name=spec["name"])["workflows"]) == 1
    assert lines(j)[-1]["step"] == "finished" and lines(j)[-1]["key"] == pending[0].key


# ------------------------------------------------------------------ threads, timeouts, units


def test_cancel_is_not_held_up_by_another_threads_watch(broker):
    """One client, two threads: a WATCH long-polling for 5 s in one does not delay a
    cancel() in the other (before: the client's lock was held across the long-poll)."""
    with broker.client() as c:
        s = c.submit(workflow([job("py.nobody-serves-this")]))
        c.exec(s.id)
        last = c.watch_page(s.id, 0)["events"][-1]["seq"]
        polled = {}

        def long_poll():
            t0 = time.monotonic()
            polled["page"] = c.watch_page(s.id, last, wait=5.0)
            polled["took"] = time.monotonic() - t0

        watcher = threading.Thread(target=long_poll)
        watcher.start()
        time.sleep(0.3)  # the WATCH is held by the broker now
        t = time.monotonic()
        st = c.cancel(s.id)
        took = time.monotonic() - t
        watcher.join(10)
        assert st["state"] == "CANCELLED"
        assert took < 2.5, f"cancel() took {took:.2f} s: it waited for the WATCH"
        # The long-poll itself ended early, with the cancel's events.
        assert polled["page"]["events"] and polled["took"] < 4.5


def test_timeout_is_a_builtin_timeouterror(fakes):
    fake = fakes(lambda req: None)
    with Client(fake.endpoint, timeout=0.1, retries=1) as c:
        with pytest.raises(TimeoutError) as e:
            c.ping()
    assert isinstance(e.value, Timeout) and isinstance(e.value, BatonError)
    assert e.value.code == "timeout" and e.value.retryable


def test_durations_are_seconds_and_the_ms_keywords_still_work_with_a_warning(fakes):
    fake = fakes(lambda req: [b"", b"BATON/1", b"EVENTS", req[3], b'{"id":"X","events":[],"state":"RUNNING"}'])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names warn about nothing
        c = Client(fake.endpoint, timeout=0.25)
        c.watch_page("X", 0, wait=0.1)
        w = Worker(default_interval=0.5)
    assert (c.timeout, c.timeout_ms, w.interval_ms, w.drain_timeout) == (0.25, 250, 500, 30.0)
    with pytest.warns(DeprecationWarning, match="timeout_ms"):
        old = Client(fake.endpoint, timeout_ms=250)
    assert old.timeout == 0.25
    with pytest.warns(DeprecationWarning, match="wait_ms"):
        old.watch_page("X", 0, 100)  # the 1.0 positional wait_ms
    with pytest.warns(DeprecationWarning, match="default_interval_ms"):
        assert Worker(default_interval_ms=500).interval_ms == 500
    with pytest.raises(TypeError):
        Client(fake.endpoint, timeout=1, timeout_ms=1000)
    bodies = [json.loads(frames[4]) for _, frames in fake.received]
    assert [b["wait_ms"] for b in bodies] == [100, 100]
    c.close()
    old.close()


# ------------------------------------------------------------------ the journal on disk


def test_the_journal_fsyncs_its_directory_when_it_creates_the_file(tmp_path, monkeypatch):
    """The new file's name is durable too, not only its first line."""
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    j = Journal(tmp_path / "new" / "journal.jsonl")
    e = Entry(key="k1", file="wf.json", spec=workflow([job("echo")]))
    j.append(e, "submitting")
    assert synced == ["file", "dir"]
    synced.clear()
    e.id = "WF1"
    j.append(e, "submitted")
    assert synced == ["file"]  # the file exists: nothing new in the directory


def test_an_append_after_a_torn_last_line_starts_on_a_new_line(tmp_path):
    """After a crash mid-write the journal ends in a torn line; the next append ends it
    first (as the Swift CLI does), so the new line is not lost with the torn one."""
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    a = Entry(key="a", file="a.json", spec=workflow([job("echo")], name="a"))
    j.append(a, "submitting")
    a.id = "A"
    j.append(a, "submitted")
    with open(path, "ab") as f:
        f.write(b'{"key":"a","step":"fini')  # the crash
    b = Entry(key="b", file="b.json", spec=workflow([job("echo")], name="b"))
    j.append(b, "submitting")
    data = path.read_bytes()
    assert b'"step":"fini\n{' in data and data.endswith(b"\n")
    assert [(e.key, e.id) for e in j.unfinished()] == [("a", "A"), ("b", None)]
    j.append(b, "finished", "SUCCEEDED")
    assert path.read_bytes().count(b"\n") == data.count(b"\n") + 1  # no extra newline now


def test_resume_follows_after_the_last_seq_the_journal_saw(broker, swift_worker, tmp_path):
    """A "seen" line (written while following, as the Swift CLI does) makes resume start
    after that event instead of replaying every one; the Swift CLI reads the same line."""
    j = str(tmp_path / "journal.jsonl")
    spec = workflow([job("sleep", {"ms": 600})], [job("sleep", {"ms": 600})], name=unique())
    swift_worker(broker, types="sleep")
    with broker.client() as c:
        s = c.submit(spec)
        c.exec(s.id)
        wait_until(lambda: "block.succeeded" in kinds(events_of(c, s.id)), 10, message="block 0 to finish")
        seen = events_of(c, s.id)[-1]["seq"]
        e = Entry(key=s.idempotency_key, file="wf.json", spec=spec, id=s.id)
        for step in ("submitting", "submitted"):
            Journal(j).append(e, step)
        e.seen_seq = seen
        Journal(j).append(e, "seen")
        assert Journal(j).unfinished()[0].seen_seq == seen
        got = []
        [final] = c.resume(j, on_event=lambda ev: got.append(ev["seq"]))
        assert final["state"] == "SUCCEEDED"
        assert got and min(got) == seen + 1, (seen, got)
    assert Journal(j).unfinished() == []


def test_run_journals_seen_lines_while_it_follows(broker, swift_worker, tmp_path):
    j = str(tmp_path / "journal.jsonl")
    swift_worker(broker, types="sleep")
    spec = workflow(*[[job("sleep", {"ms": 800})] for _ in range(4)], name=unique())
    with broker.client() as c:
        final = c.run(spec, journal=j)
    assert final["state"] == "SUCCEEDED"
    seen = [line for line in lines(j) if line["step"] == "seen"]
    assert seen and all(isinstance(x["seq"], int) and x["id"] == final["id"] for x in seen), seen
