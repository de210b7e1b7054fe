"""BATON-W/1 against the real broker with hand-made DEALER workers (spec sections 9, 10).

The brokers here beat every 200 ms, so a silent peer is lost after 600 ms."""

import re
import time

import pytest

from helpers import events_of, job, kinds, wait_event, wait_state, workflow

INTERVAL = 200


@pytest.fixture(scope="module")
def shared(module_broker_factory):
    return module_broker_factory()


@pytest.fixture
def b(shared):
    return shared


@pytest.fixture
def T(request):
    """A job type of this test's own: tests share a broker, never their jobs or workers."""
    return "t-" + re.sub(r"[^A-Za-z0-9]", "-", request.node.name)[:90]


@pytest.fixture
def c(b):
    client = b.client()
    yield client
    client.close()


@pytest.fixture
def W(b, raw_workers):
    """W() -> a new raw worker connection to the broker; each says DISCONNECT at the end."""
    made = []

    def make(**kw):
        w = raw_workers(b, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.send("DISCONNECT", {})


def start(c, spec):
    s = c.submit(spec)
    c.exec(s.id)
    return s.id


# ------------------------------------------------------------------ READY / HEARTBEAT


def test_ready_is_answered_with_heartbeat_and_beats_follow(W, T):
    w = W()
    # The reply to READY also carries the broker's output limit (spec §9.3:
    # max_output_bytes is L, the default 1 MiB); the periodic beats do not.
    assert w.ready(types=[T], capacity=2, name="w1") == {"interval_ms": INTERVAL,
                                                         "max_output_bytes": 1048576,
                                                         "features": ["backup", "cancel_codes", "drain", "progress", "stats", "status_paging", "strict_spec"]}
    t = time.monotonic()
    while time.monotonic() - t < 0.65:
        m = w.recv(0.5)
        assert m is not None and m[0] == "HEARTBEAT" and m[1] == {"interval_ms": INTERVAL}, m
        w.send("HEARTBEAT", {})
        w.heartbeats += 1
    assert 2 <= w.heartbeats <= 5


@pytest.mark.parametrize("body, path", [
    ({"types": ["echo"]}, "worker"),
    ({"worker": "", "types": ["echo"]}, "worker"),
    ({"worker": "w" * 257, "types": ["echo"]}, "worker"),
    ({"worker": 7, "types": ["echo"]}, "worker"),
    ({"worker": "w"}, "types"),
    ({"worker": "w", "types": []}, "types"),
    ({"worker": "w", "types": [""]}, "types"),
    ({"worker": "w", "types": "echo"}, "types"),
    ({"worker": "w", "types": ["echo", 5]}, "types"),
    ({"worker": "w", "types": ["echo"], "capacity": -1}, "capacity"),
    ({"worker": "w", "types": ["echo"], "capacity": 10001}, "capacity"),
    ({"worker": "w", "types": ["echo"], "capacity": 1.5}, "capacity"),
])
def test_bad_ready_gets_disconnect(W, body, path):
    w = W()
    w.send("READY", body)
    got = w.expect("DISCONNECT", 2)
    assert set(got) == {"code", "reason"}
    assert got["code"] == "bad_ready"
    assert got["reason"].startswith(f"bad READY: {path}"), got


def test_ready_limits_accepted(W, T):
    assert W().ready(types=[T], capacity=10000, name="w" * 256)["interval_ms"] == INTERVAL


@pytest.mark.parametrize("command, body", [
    ("HEARTBEAT", {}),
    ("RESULT", {"job_id": "x.0.0", "attempt": 1, "ok": True}),
    ("DISCONNECT", {}),
    ("JOB", {"job_id": "x.0.0"}),
    ("CANCEL", {"job_id": "x.0.0"}),
])
def test_unregistered_connection_gets_disconnect(W, command, body):
    w = W()
    w.send(command, body)
    got = w.expect("DISCONNECT", 2)
    assert isinstance(got.get("reason"), str) and got["reason"]
    assert got["code"] == "unknown_worker"


MALFORMED = [
    [b"", b"BATON/1", b"READY", b'{"worker":"w","types":["echo"]}'],
    [b"x", b"BATON-W/1", b"READY", b'{"worker":"w","types":["echo"]}'],
    [b"", b"BATON-W/1", b"READY"],
    [b"", b"BATON-W/1", b"READY", b'{"worker":"w","types":["echo"]}', b"{}"],
    [b"", b"BATON-W/1", b"HELLO", b"{}"],
    [b"", b"BATON-W/1", b"ready", b'{"worker":"w","types":["echo"]}'],
    [b"", b"BATON-W/1", b"READY", b"[]"],
    [b"", b"BATON-W/1", b"READY", b"{"],
    [b"", b"BATON-W/1", b"READY", b'{"worker":"w","worker":"v","types":["echo"]}'],
    [b"", b"BATON-W/1", b"HEARTBEAT", b"\xff"],
]


def test_another_worker_protocol_version_is_told_so_in_ours(W):
    """A newer worker (frame 1 BATON-W/2) gets DISCONNECT unsupported_version in
    BATON-W/1 rather than silence (9.1 rule 1), and can still register in our version."""
    w = W()
    w.send_frames([b"", b"BATON-W/2", b"READY", b'{"worker":"w","types":["echo"]}'])
    got = w.expect("DISCONNECT", 2)
    assert got == {"code": "unsupported_version", "reason": 'this broker speaks BATON-W/1; got "BATON-W/2"'}
    assert w.ready()["interval_ms"] == INTERVAL


def test_malformed_worker_messages_are_dropped_silently(W):
    """Each malformed message on a connection of its own: none gets any reply, and each
    connection can still register afterwards (9.1 rule 1)."""
    workers = [W() for _ in MALFORMED]
    for w, frames in zip(workers, MALFORMED):
        w.send_frames(frames)
    time.sleep(0.4)
    for w, frames in zip(workers, MALFORMED):
        assert w.recv(0) is None, f"a reply to {frames}"
        assert w.ready()["interval_ms"] == INTERVAL


# ------------------------------------------------------------------ JOB / RESULT


def test_job_fields_and_result_applied(c, W, T):
    w = W()
    w.ready(types=[T], name="w1")
    wid = start(c, workflow([job(T, {"message": "hello, world"}, timeout_ms=5000)]))
    j = w.expect("JOB")
    assert j == {"args": {"message": "hello, world"}, "attempt": 1, "job_id": f"{wid}.0.0",
                 "timeout_ms": 5000, "type": T, "workflow_id": wid}
    st = c.status(wid)["blocks"][0]["jobs"][0]
    assert st["state"] == "RUNNING" and st["attempt"] == 1 and "finished_at" not in st
    w.result(j, True, output={"message": "hello, world"})
    st = wait_state(c, wid, "SUCCEEDED")
    assert st["blocks"][0]["jobs"][0]["output"] == {"message": "hello, world"}
    d = [e for e in events_of(c, wid) if e["kind"] == "job.dispatched"][0]
    assert (d["worker"], d["job_id"], d["attempt"], d["block"], d["job"]) == ("w1", f"{wid}.0.0", 1, 0, 0)


def test_job_defaults(c, W, T):
    w = W()
    w.ready(types=[T])
    start(c, workflow([job(T)]))
    j = w.expect("JOB")
    assert j["args"] == {} and j["timeout_ms"] == 0
    w.result(j, True)


def test_null_output_is_absent(c, W, T):
    """RESULT `output: null` = absent (9.2); replies never carry null (3.2)."""
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T)]))
    w.result(w.expect("JOB"), True, output=None)
    st = wait_state(c, wid, "SUCCEEDED")
    assert "output" not in st["blocks"][0]["jobs"][0], f"spec 9.2/3.2: output null must be absent; got {st}"


@pytest.mark.parametrize("output", [[1, 2], "text", 42, True, {"nested": {"deep": [None]}}])
def test_any_json_output(c, W, output, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T)]))
    w.result(w.expect("JOB"), True, output=output)
    assert wait_state(c, wid, "SUCCEEDED")["blocks"][0]["jobs"][0]["output"] == output


def test_failed_result_retries_then_fails(c, W, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 2, "backoff_ms": 50})], [job(T)]))
    j1 = w.expect("JOB")
    w.result(j1, False, error="boom")
    j2 = w.expect("JOB")
    assert (j2["job_id"], j2["attempt"]) == (j1["job_id"], 2)
    mid = c.status(wid)["blocks"][0]["jobs"][0]
    assert (mid["state"], mid["attempt"], mid["error"]) == ("RUNNING", 2, "boom")  # error kept while retrying
    w.result(j2, False)  # no error: recorded as "job failed"
    st = wait_state(c, wid, "FAILED")
    assert st["reason"] == f"job {wid}.0.0 ({T}) failed after 2 attempts: job failed"
    ev = events_of(c, wid)
    r = next(e for e in ev if e["kind"] == "job.retrying")
    assert (r["attempt"], r["error"]) == (1, "boom")
    f = next(e for e in ev if e["kind"] == "job.failed")
    assert (f["attempt"], f["error"]) == (2, "job failed")
    assert ev[-1]["kind"] == "workflow.failed"
    assert st["blocks"][1]["jobs"][0]["state"] == "CANCELLED"


def test_not_retryable_result_fails_at_once(c, W, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 5, "backoff_ms": 0})]))
    w.result(w.expect("JOB"), False, error="bad input", retryable=False)
    st = wait_state(c, wid, "FAILED")
    assert st["reason"] == f"job {wid}.0.0 ({T}) failed after 1 attempt: bad input"
    assert w.quiet(0.3) == []  # no second attempt


def test_success_clears_error(c, W, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 2, "backoff_ms": 0})]))
    w.result(w.expect("JOB"), False, error="first try")
    w.result(w.expect("JOB"), True, output=1)
    j = wait_state(c, wid, "SUCCEEDED")["blocks"][0]["jobs"][0]
    assert "error" not in j and j["attempt"] == 2


# ------------------------------------------------------------------ fencing (10.6)


def test_stale_and_duplicate_results_are_dropped(c, W, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 3, "backoff_ms": 0})]))
    j1 = w.expect("JOB")
    w.result(j1, False, error="first")
    j2 = w.expect("JOB")
    w.result(j1, True, output="stale")  # attempt 1 is over
    time.sleep(0.2)
    st = c.status(wid)["blocks"][0]["jobs"][0]
    assert (st["state"], st["attempt"]) == ("RUNNING", 2)
    w.result(j2, True, output="real")
    wait_state(c, wid, "SUCCEEDED")
    n = len(events_of(c, wid))
    w.result(j2, False, error="duplicate")
    w.result(j2, True, output="duplicate")
    time.sleep(0.2)
    st = c.status(wid)
    assert st["blocks"][0]["jobs"][0]["output"] == "real"
    assert len(events_of(c, wid)) == n


def test_result_from_another_connection_is_fenced_off(c, W, T):
    """Section 10.6: the fencing token includes the connection the JOB went to. Job ids
    follow from workflow ids, so otherwise any registered worker could complete or fail
    any job (an adversarial probe did exactly that)."""
    a, other = W(), W()
    a.ready(types=[T], name="a")
    wid = start(c, workflow([job(T)]))
    j = a.expect("JOB")
    other.ready(types=["other.type"], name="other")
    other.result(j, True, output="forged by the other connection")
    time.sleep(0.3)
    st = c.status(wid)
    assert st["state"] == "RUNNING" and st["blocks"][0]["jobs"][0]["state"] == "RUNNING"
    a.result(j, True, output="from the JOB's own connection")
    st = wait_state(c, wid, "SUCCEEDED")
    assert st["blocks"][0]["jobs"][0]["output"] == "from the JOB's own connection"


# ------------------------------------------------------------------ capacity, types, choice


def test_capacity_bounds_unfinished_jobs_and_ready_replaces_it(c, W, T):
    w = W()
    w.ready(types=[T], capacity=2)
    wid = start(c, {"name": "cap", "blocks": [{"concurrency": 10, "jobs": [{"type": T} for _ in range(6)]}]})
    jobs = [w.expect("JOB"), w.expect("JOB")]
    assert w.quiet(0.3) == []
    w.result(jobs[0], True)
    jobs.append(w.expect("JOB"))
    assert w.quiet(0.2) == []
    # READY again: same connection, new capacity; jobs in flight are kept
    w.send("READY", {"worker": "raw", "types": [T], "capacity": 4})
    got = [m for m in w.quiet(0.5) if m[0] == "JOB"]
    assert len(got) == 2
    jobs += [m[1] for m in got]
    # capacity below the in-flight count: nothing new until the count is below it
    w.send("READY", {"worker": "raw", "types": [T], "capacity": 1})
    w.quiet(0.1)
    in_flight = [j for j in jobs[1:]]
    assert len(in_flight) == 4
    for j in in_flight[:3]:
        w.result(j, True)
    assert [m for m in w.quiet(0.3) if m[0] == "JOB"] == []
    w.result(in_flight[3], True)
    last = w.expect("JOB")
    w.result(last, True)
    wait_state(c, wid, "SUCCEEDED")


def test_default_capacity_is_1(c, W, T):
    w = W()
    w.send("READY", {"worker": "w", "types": [T]})
    w.expect("HEARTBEAT")
    start(c, {"name": "cap1", "blocks": [{"concurrency": 5, "jobs": [{"type": T} for _ in range(3)]}]})
    w.expect("JOB")
    assert w.quiet(0.3) == []


def test_only_declared_types_are_sent(c, W, T):
    w = W()
    w.ready(types=["py.only"], capacity=5)
    start(c, workflow([job(T)]))
    assert w.quiet(0.3) == []
    wid = start(c, workflow([job("py.only", {"k": 1})]))
    j = w.expect("JOB")
    assert j["type"] == "py.only" and j["workflow_id"] == wid


def test_jobs_wait_in_the_queue_until_a_worker_comes(c, W):
    wid = start(c, workflow([job("late.type")]))
    time.sleep(0.3)
    assert c.status(wid)["blocks"][0]["jobs"][0]["state"] == "PENDING"
    w = W()
    w.ready(types=["late.type"])
    w.result(w.expect("JOB"), True)
    wait_state(c, wid, "SUCCEEDED")


def test_least_loaded_worker_and_ties_to_the_oldest(c, W, T):
    a, b_ = W(), W()
    a.ready(types=[T], capacity=2, name="a")
    b_.ready(types=[T], capacity=2, name="b")
    wid = start(c, {"name": "spread", "blocks": [{"concurrency": 2, "jobs": [{"type": T}, {"type": T}]}]})
    ja, jb = a.expect("JOB"), b_.expect("JOB")
    assert (ja["job_id"], jb["job_id"]) == (f"{wid}.0.0", f"{wid}.0.1")


# ------------------------------------------------------------------ CANCEL (9.3)


def test_timeout_sends_cancel_and_frees_the_slot(c, W, T):
    w = W()
    w.ready(types=[T], capacity=1)
    wid = start(c, workflow([job(T, timeout_ms=300, retry={"max_attempts": 2, "backoff_ms": 0})]))
    j1 = w.expect("JOB")
    cancel = w.expect("CANCEL", 2)
    assert cancel == {"job_id": j1["job_id"], "attempt": 1, "code": "timeout", "reason": "timed out"}
    j2 = w.expect("JOB", 2)  # the slot was freed at once
    assert j2["attempt"] == 2
    w.result(j1, True, output="late")  # dropped: attempt 1 was cancelled
    time.sleep(0.1)
    w.result(j2, True, output="on time")
    st = wait_state(c, wid, "SUCCEEDED")
    assert st["blocks"][0]["jobs"][0]["output"] == "on time"
    r = next(e for e in events_of(c, wid) if e["kind"] == "job.retrying")
    assert r["error"] == "timed out after 300 ms"


def test_cancel_workflow_cancels_running_attempts(c, W, T):
    w = W()
    w.ready(types=[T], capacity=2)
    wid = start(c, {"name": "c", "blocks": [{"concurrency": 2, "jobs": [{"type": T}, {"type": T}]}]})
    j = w.expect("JOB")
    w.expect("JOB")
    st = c.cancel(wid)
    assert st["state"] == "CANCELLED"
    assert all(x["state"] == "CANCELLED" for x in st["blocks"][0]["jobs"])
    cancels = [w.expect("CANCEL"), w.expect("CANCEL")]
    assert sorted(x["job_id"] for x in cancels) == [f"{wid}.0.0", f"{wid}.0.1"]
    assert all(x["reason"] == "workflow cancelled" and x["code"] == "cancelled" and x["attempt"] == 1 for x in cancels)
    ev = events_of(c, wid)
    assert kinds(ev)[-3:] == ["job.cancelled", "job.cancelled", "workflow.cancelled"]
    assert {(e["block"], e["job"], e["job_id"], e["attempt"]) for e in ev if e["kind"] == "job.cancelled"} == \
        {(0, 0, f"{wid}.0.0", 1), (0, 1, f"{wid}.0.1", 1)}
    w.result(j, True)  # dropped
    time.sleep(0.1)
    assert c.status(wid)["blocks"][0]["jobs"][0]["state"] == "CANCELLED"


def test_failing_workflow_cancels_its_other_running_attempts(c, W, T):
    w = W()
    w.ready(types=[T], capacity=2)
    wid = start(c, {"name": "f", "blocks": [{"concurrency": 2, "jobs": [{"type": T}, {"type": T}]}]})
    j0, j1 = w.expect("JOB"), w.expect("JOB")
    w.result(j0, False, error="broken", retryable=False)
    cancel = w.expect("CANCEL")
    assert cancel == {"job_id": j1["job_id"], "attempt": 1, "code": "workflow_failed", "reason": "workflow failed"}
    st = wait_state(c, wid, "FAILED")
    assert [x["state"] for x in st["blocks"][0]["jobs"]] == ["FAILED", "CANCELLED"]
    assert kinds(events_of(c, wid))[-3:] == ["job.failed", "job.cancelled", "workflow.failed"]


# ------------------------------------------------------------------ liveness (9.4, 10.7)


def test_silent_worker_is_lost_and_its_job_retried(c, W, T):
    silent, good = W(), W()
    silent.ready(types=[T], name="silent")
    wid = start(c, workflow([job(T, retry={"max_attempts": 2, "backoff_ms": 0})]))
    j = silent.expect("JOB")
    t = time.monotonic()
    good.ready(types=[T], name="good")
    j2 = good.expect("JOB", 3)  # the retry goes to the live worker
    lost_after = time.monotonic() - t
    assert j2["attempt"] == 2 and j2["job_id"] == j["job_id"]
    assert 0.35 <= lost_after < 2.0, lost_after  # about 3 intervals
    r = next(e for e in events_of(c, wid) if e["kind"] == "job.retrying")
    assert r["error"] == "worker lost"
    # the lost worker is forgotten: its next message gets DISCONNECT
    silent.send("HEARTBEAT", {})
    assert silent.expect("DISCONNECT", 2)["reason"]
    good.result(j2, True)
    wait_state(c, wid, "SUCCEEDED")


def test_max_attempts_1_is_at_most_once(c, W, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 1})]))
    w.expect("JOB")
    w.send("DISCONNECT", {})
    st = wait_state(c, wid, "FAILED", timeout=3)
    assert st["reason"] == f"job {wid}.0.0 ({T}) failed after 1 attempt: worker lost"


def test_worker_disconnect_ends_attempts_at_once(broker_factory, raw_workers, T):
    b = broker_factory(heartbeat_ms=1000)  # silence would take 3 s: DISCONNECT must not
    c = b.client()
    w = raw_workers(b)
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 2, "backoff_ms": 0})]))
    j = w.expect("JOB")
    t = time.monotonic()
    w.send("DISCONNECT", {})
    e = wait_event(c, wid, "job.retrying", timeout=5)
    assert time.monotonic() - t < 1.0  # not 3 silent intervals
    assert e["error"] == "worker lost"
    w.result(j, True)  # no longer registered: DISCONNECT, not applied
    assert w.expect("DISCONNECT", 2)["reason"]
    assert c.status(wid)["blocks"][0]["jobs"][0]["state"] == "PENDING"
    c.close()


def test_registered_worker_sending_broker_commands_is_ignored(c, W, T):
    w = W()
    w.ready(types=[T])
    w.send("JOB", {"job_id": "x", "attempt": 1, "type": T, "args": {}, "timeout_ms": 0, "workflow_id": "x"})
    w.send("CANCEL", {"job_id": "x", "attempt": 1, "reason": "no"})
    w.send("HEARTBEAT", {"anything": ["goes"]})  # a worker's HEARTBEAT body is not read
    got = w.quiet(0.5)
    assert got == [] and w.heartbeats >= 1  # still registered, no DISCONNECT
    wid = start(c, workflow([job(T)]))
    w.result(w.expect("JOB"), True)
    wait_state(c, wid, "SUCCEEDED")


def test_result_missing_fencing_fields_is_dropped(c, W, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T)]))
    j = w.expect("JOB")
    w.send("RESULT", {"attempt": 1, "ok": True})
    w.send("RESULT", {"job_id": j["job_id"], "ok": True})
    assert [m for m in w.quiet(0.3) if m[0] != "JOB"] == []
    assert c.status(wid)["blocks"][0]["jobs"][0]["state"] == "RUNNING"
    w.result(j, True)
    wait_state(c, wid, "SUCCEEDED")


@pytest.mark.parametrize("bad", [
    {"ok": "yes"},
    {"ok": True, "retryable": "no"},
    {"ok": False, "error": "e" * 65537},
])
def test_result_with_an_invalid_field_ends_the_attempt_as_a_failure(c, W, bad, T):
    """9.1 rule 4 and 6.3: a RESULT that names its job_id and attempt but has another
    invalid field ends that attempt as a retryable failure ("malformed RESULT: ..."),
    so a job without a timeout cannot hang; the next attempt is dispatched."""
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 3, "backoff_ms": 0})]))
    j = w.expect("JOB")
    body = {"job_id": j["job_id"], "attempt": j["attempt"]}
    body.update(bad)
    w.send("RESULT", body)
    j2 = w.expect("JOB")
    assert (j2["job_id"], j2["attempt"]) == (j["job_id"], 2)
    st = c.status(wid)["blocks"][0]["jobs"][0]
    assert st["error"].startswith("malformed RESULT: "), st
    w.result(j2, True, output="valid")
    assert wait_state(c, wid, "SUCCEEDED")["blocks"][0]["jobs"][0]["output"] == "valid"


def test_result_error_at_the_limit_is_accepted(c, W, T):
    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 1})]))
    w.result(w.expect("JOB"), False, error="e" * 65536)
    st = wait_state(c, wid, "FAILED")
    assert st["blocks"][0]["jobs"][0]["error"] == "e" * 65536


# ------------------------------------------------------------------ broker shutdown and restart


def test_graceful_shutdown_disconnects_workers(broker, raw_workers, T):
    b = broker
    W = lambda: raw_workers(b)  # noqa: E731
    w = W()
    w.ready(types=[T])
    assert b.terminate() == 0
    assert w.expect("DISCONNECT", 3) == {"code": "shutting_down", "reason": "broker shutting down"}


def test_restart_ends_running_attempts_and_old_connections_get_disconnect(broker, raw_workers, T):
    b = broker
    W = lambda: raw_workers(b)  # noqa: E731
    c = b.client()
    old = W()
    old.ready(types=[T], name="old")
    wid = start(c, workflow([job(T, retry={"max_attempts": 2, "backoff_ms": 0})]))
    j = old.expect("JOB")
    b.restart(kill=True)
    old.send("HEARTBEAT", {})  # same DEALER, reconnected by libzmq to the new broker
    assert old.expect("DISCONNECT", 3)["reason"]
    r = wait_event(c, wid, "job.retrying", timeout=3)
    assert (r["attempt"], r["error"]) == (1, "broker restarted while the attempt ran")
    old.result(j, True, output="stale")  # the attempt ended with the old broker
    fresh = W()
    fresh.ready(types=[T], name="fresh")
    j2 = fresh.expect("JOB", 3)
    assert (j2["job_id"], j2["attempt"]) == (j["job_id"], 2)
    fresh.result(j2, True, output="after restart")
    st = wait_state(c, wid, "SUCCEEDED")
    assert st["blocks"][0]["jobs"][0]["output"] == "after restart"


def test_ready_again_replaces_types(c, W, T):
    w = W()
    w.ready(types=[T + "-a"])
    w.send("READY", {"worker": "raw", "types": [T + "-b"], "capacity": 1})
    w.quiet(0.1)
    start(c, workflow([job(T + "-a")]))
    assert w.quiet(0.3) == []
    start(c, workflow([job(T + "-b")]))
    assert w.expect("JOB")["type"] == T + "-b"


def test_backoff_doubles_after_each_attempt(c, W, T):
    from datetime import datetime

    def ms(ts):
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000

    w = W()
    w.ready(types=[T])
    wid = start(c, workflow([job(T, retry={"max_attempts": 3, "backoff_ms": 100})]))
    for _ in range(3):
        w.result(w.expect("JOB", 3), False, error="again")
    wait_state(c, wid, "FAILED")
    retries = [e for e in events_of(c, wid) if e["kind"] == "job.retrying"]
    assert [e["attempt"] for e in retries] == [1, 2]
    waits = [round(ms(e["retry_at"]) - ms(e["at"])) for e in retries]
    assert abs(waits[0] - 100) <= 2 and abs(waits[1] - 200) <= 2, waits
