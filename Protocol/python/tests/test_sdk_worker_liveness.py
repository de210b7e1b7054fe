"""The Python worker's connection lifecycle against the spec: reconnect pacing (9.4,
"Pacing reconnects"), the backoff after a refused READY (9.3), giving up at timeout_ms
without waiting for the CANCEL (9.3), abandoning the attempts of a lost connection
(9.4 step 4), and not draining on a broker without the feature `drain` (9.5).

Most tests play the broker with a ROUTER (helpers.FakeWorkerBroker), which sees every READY
and decides what the worker hears; one uses the real broker, killed."""

import threading
import time

import pytest

from baton import Worker
from helpers import FakeWorkerBroker, job, wait_event, wait_state, wait_until, workflow


@pytest.fixture
def fake():
    b = FakeWorkerBroker()
    yield b
    b.close()


@pytest.fixture
def workers():
    made = []

    def make(endpoint, handlers=None, **kw):
        kw.setdefault("name", f"live{len(made) + 1}")
        w = Worker(endpoint, **kw)
        for t, h in (handlers or {"py.noop": lambda job: None}).items():
            w.register(t, h)
        w.start()
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop(timeout=5, drain=False)


# ------------------------------------------------------------------ pacing (9.4)


@pytest.mark.timeout_s(40)
def test_connections_no_ready_was_answered_on_are_paced_1s_doubling(fake, workers):
    """A broker that never answers (here a ROUTER that reads and says nothing): each
    connection ends after 3 silent intervals (0.3 s here), and the next opens 1 s, then
    2 s later, not at once: 3 READYs in 4.2 s, where an unpaced worker sends one every
    0.3 s (before: 14)."""
    w = workers(fake.endpoint, default_interval=0.1)
    readies = fake.collect(4.2, "READY")
    times = [at for _, _, _, at in readies]
    assert len(readies) == 3, [round(t - times[0], 2) for t in times]
    assert len({rid for rid, _, _, _ in readies}) == 3  # a new socket each time
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert 0.3 + 1.0 - 0.15 <= gaps[0] <= 0.3 + 1.0 + 0.4, gaps
    assert 0.3 + 2.0 - 0.15 <= gaps[1] <= 0.3 + 2.0 + 0.4, gaps
    assert w.stats["connections"] == 3 and not w.registered.is_set()


@pytest.mark.timeout_s(40)
def test_a_connection_that_had_an_answer_is_reopened_at_once_and_an_answer_resets_the_wait(fake, workers):
    w = workers(fake.endpoint, default_interval=0.1)
    rid, ready, _ = fake.expect("READY")
    assert ready["capacity"] == 4
    fake.answer(rid, interval_ms=100)
    assert w.wait_registered(2)
    # Silence after an answer: a new connection 3 intervals after the last message, at once.
    t0 = time.monotonic()
    rid2, _, at = fake.expect("READY", timeout=3)
    assert rid2 != rid and at - t0 < 0.3 * 1.5 + 0.3
    # DISCONNECT after an answer (a broker's graceful restart): at once.
    fake.answer(rid2, interval_ms=100)
    wait_until(lambda: w.registered.is_set(), 2, message="the second answer")
    t1 = time.monotonic()
    fake.send(rid2, "DISCONNECT", {"code": "shutting_down", "reason": "broker shutting down"})
    rid3, _, at = fake.expect("READY", timeout=3)
    assert at - t1 < 0.25
    # DISCONNECT before any answer on the connection: 1 s (then 2 s: the test above).
    t2 = time.monotonic()
    fake.send(rid3, "DISCONNECT", {"code": "unknown_worker", "reason": "unknown worker; reconnect and send READY"})
    rid5, _, at = fake.expect("READY", timeout=3)
    assert 0.9 <= at - t2 <= 1.5
    # An answer resets the wait: a refused READY later waits 1 s again, not 2 s.
    fake.answer(rid5, interval_ms=100)
    wait_until(lambda: w._ready_backoff == 0, 2, message="the backoff to reset")
    t4 = time.monotonic()
    fake.send(rid5, "DISCONNECT", {"code": "bad_ready", "reason": "bad READY: worker: too long"})
    rid6, _, at = fake.expect("READY", timeout=3)
    assert 0.9 <= at - t4 <= 1.5, "a refused READY backs off even after an answer"
    # unsupported_version is a refusal too (9.3): the wait doubles.
    t5 = time.monotonic()
    fake.send(rid6, "DISCONNECT", {"code": "unsupported_version", "reason": 'this broker speaks BATON-W/1; got "x"'})
    _, _, at = fake.expect("READY", timeout=4)
    assert 1.9 <= at - t5 <= 2.5


@pytest.mark.timeout_s(40)
def test_a_dead_real_broker_is_polled_at_a_growing_interval_and_rejoined(broker, py_worker):
    """The real broker SIGKILLed (heartbeat 200 ms): the connection that had an answer is
    reopened at once (~0.6 s), the next ones only 1 s and 2 s after their silence ends;
    once the broker is back the worker registers and the wait is reset."""
    w = py_worker(broker, {"py.echo": lambda job: job.args})
    before = w.stats["connections"]
    broker.kill()
    t = time.monotonic()
    wait_until(lambda: w.stats["connections"] == before + 1, 2, message="the first reconnect")
    assert time.monotonic() - t < 1.0  # at once after 3 silent intervals
    time.sleep(max(0.0, 4.0 - (time.monotonic() - t)))
    # reopened at ~0.6 s, ~2.2 s (0.6 + 0.6 silent + 1 s), next at ~4.8 s: unpaced, ~6 by now
    assert w.stats["connections"] == before + 2, w.stats
    broker.start()
    assert w.wait_registered(6)
    assert w._ready_backoff == 0
    with broker.client() as c:
        s = c.submit(workflow([job("py.echo", {"back": 1})]))
        c.exec(s.id)
        assert wait_state(c, s.id, "SUCCEEDED")["blocks"][0]["jobs"][0]["output"] == {"back": 1}


# ------------------------------------------------------------------ giving up at timeout_ms (9.3)


def test_a_job_is_given_up_at_timeout_ms_without_the_cancel(fake, workers):
    """The broker's CANCEL never comes (a fake broker): the worker still gives up once
    timeout_ms has passed since the JOB came (job.cancelled, reason "timed out"), sends
    no RESULT for it, and a JOB whose timeout passed while it waited for a free slot
    never starts."""
    seen, release = {}, threading.Event()

    def hold(job):
        release.wait(5)
        return "held"

    def patient(job):
        seen.setdefault("started", []).append(job.job_id)
        t = time.monotonic()
        seen["cancelled"] = job.wait(5)
        seen["after"] = time.monotonic() - t
        seen["reason"] = job.cancel_reason
        return "too late"

    w = workers(fake.endpoint, {"py.hold": hold, "py.patient": patient}, capacity=1)
    rid, _, _ = fake.expect("READY")
    fake.answer(rid)
    assert w.wait_registered(2)
    fake.job(rid, "j1", "py.patient", timeout_ms=300)
    wait_until(lambda: "reason" in seen, 3, message="the handler to give up")
    assert seen["cancelled"] is True and seen["reason"] == "timed out"
    assert 0.25 <= seen["after"] <= 0.6, seen
    # capacity 1: j2 holds the slot, j3 (timeout 300 ms) waits behind it and expires.
    fake.job(rid, "j2", "py.hold")
    fake.job(rid, "j3", "py.patient", timeout_ms=300)
    time.sleep(0.6)
    release.set()
    got = [(m[1], m[2]) for m in fake.collect(1.0) if m[1] in ("RESULT", "PROGRESS")]
    assert got == [("RESULT", {"job_id": "j2", "attempt": 1, "ok": True, "output": "held"})]
    assert seen["started"] == ["j1"], "a JOB whose timeout passed in the queue was started"
    assert w.stats["timed_out"] == 2 and w.stats["results"] == 1 and w.running_jobs == []


def test_a_drain_ends_when_the_last_job_times_out(broker):
    """Giving up at timeout_ms ends the attempt for the drain too (9.5): a handler that
    ignores its cancel does not hold the drain until drain_timeout."""
    c = broker.client()
    started = threading.Event()

    def deaf(job):
        started.set()
        time.sleep(2.0)  # ignores job.cancelled
        return "late"

    w = Worker(broker.worker_endpoint, name="deaf", capacity=1, drain_timeout=10)
    w.register("py.deaf", deaf)
    w.start()
    try:
        assert w.wait_registered(5)
        s = c.submit(workflow([job("py.deaf", timeout_ms=500, retry={"max_attempts": 1})]))
        c.exec(s.id)
        assert started.wait(5)
        t = time.monotonic()
        w.stop()
        assert time.monotonic() - t < 1.5  # ~0.5 s: the timeout, not the 10 s drain bound
        assert wait_state(c, s.id, "FAILED")["blocks"][0]["jobs"][0]["error"] == "timed out after 500 ms"
        assert w.stats["results"] == 0
    finally:
        w.stop(drain=False)
        c.close()


# ------------------------------------------------------------------ abandoning at a lost connection (9.4 step 4)


def test_a_lost_connection_abandons_its_jobs_and_sends_no_result_on_the_next(fake, workers):
    seen = {}

    def waiting(job):
        seen["cancelled"] = job.wait(5)
        seen["reason"] = job.cancel_reason
        return "would be fenced off anyway"

    w = workers(fake.endpoint, {"py.wait": waiting})
    rid, _, _ = fake.expect("READY")
    fake.answer(rid)
    fake.job(rid, "j1", "py.wait")
    wait_until(lambda: w.running_jobs, 2, message="the job to start")
    fake.send(rid, "DISCONNECT", {"code": "shutting_down", "reason": "broker shutting down"})
    rid2, _, _ = fake.expect("READY")
    fake.answer(rid2)
    wait_until(lambda: "reason" in seen, 2, message="the handler to see the cancel")
    assert seen == {"cancelled": True, "reason": "connection lost"}
    assert [m for m in fake.collect(0.5) if m[1] == "RESULT"] == []
    assert w.stats["abandoned"] == 1 and w.running_jobs == []


def test_a_real_broker_restart_abandons_the_running_job_and_it_runs_again(broker, py_worker):
    runs, reasons = [], []

    def slow(job):
        runs.append(job.attempt)
        if job.attempt == 1:
            job.wait(10)
            reasons.append(job.cancel_reason)
            return "attempt 1 is over"
        return "attempt 2"

    w = py_worker(broker, {"py.slow": slow})
    with broker.client() as c:
        s = c.submit(workflow([job("py.slow", retry={"max_attempts": 2, "backoff_ms": 0})]))
        c.exec(s.id)
        wait_until(lambda: runs, 5, message="attempt 1 to start")
        broker.restart(kill=True)
        wait_until(lambda: reasons, 3, message="attempt 1 to be abandoned")
        assert reasons == ["connection lost"]
        st = wait_state(c, s.id, "SUCCEEDED", timeout=10)
        assert st["blocks"][0]["jobs"][0]["output"] == "attempt 2" and runs == [1, 2]
        assert wait_event(c, s.id, "job.retrying")["error"] == "broker restarted while the attempt ran"
    assert w.stats["abandoned"] == 1 and w.stats["results"] == 1


# ------------------------------------------------------------------ draining needs the feature (9.5)


def test_stop_on_a_broker_without_drain_leaves_at_once(fake, workers):
    """A broker whose answer lacks "drain" would refuse READY capacity 0 (bad_ready) and
    end the running attempts anyway: stop() leaves at once with DISCONNECT."""
    w = workers(fake.endpoint, {"py.wait": lambda job: job.wait(5)}, drain_timeout=10)
    rid, _, _ = fake.expect("READY")
    fake.answer(rid, features=["cancel_codes", "progress"])
    fake.job(rid, "j1", "py.wait")
    wait_until(lambda: w.running_jobs, 2, message="the job to start")
    t = time.monotonic()
    w.stop()
    assert time.monotonic() - t < 1.0
    got = [(m[1], m[2]) for m in fake.collect(0.3) if m[1] != "HEARTBEAT"]
    assert got == [("DISCONNECT", {})], got


def test_stop_on_a_broker_with_drain_sends_ready_capacity_0(fake, workers):
    release = threading.Event()
    w = workers(fake.endpoint, {"py.hold": lambda job: release.wait(5) and "held"}, drain_timeout=10)
    rid, _, _ = fake.expect("READY")
    fake.answer(rid)
    fake.job(rid, "j1", "py.hold")
    wait_until(lambda: w.running_jobs, 2, message="the job to start")
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    _, drain, _ = fake.expect("READY")
    assert drain["capacity"] == 0
    fake.answer(rid)
    release.set()
    _, result, _ = fake.expect("RESULT")
    assert result["output"] == "held"
    fake.expect("DISCONNECT")
    stopper.join(5)
    assert not stopper.is_alive()
