"""The Python worker SDK against the real broker: handlers (sync and async),
concurrency bounded by capacity, heartbeats, CANCEL, draining and clean shutdown,
reconnection after a broker restart (spec section 9)."""

import asyncio
import json
import threading
import time

import pytest
import zmq

from baton import JobFailed, Worker
from helpers import CTX, events_of, job, kinds, wait_event, wait_state, wait_until, workflow


@pytest.fixture
def c(broker):
    client = broker.client()
    yield client
    client.close()


def run_wf(c, spec, timeout=10):
    s = c.submit(spec)
    c.exec(s.id)
    return wait_state(c, s.id, ("SUCCEEDED", "FAILED", "CANCELLED"), timeout=timeout)


def test_decorator_registers_handlers_and_outputs_reach_status(broker, c):
    w = Worker(broker.worker_endpoint, name="py-deco", capacity=2)

    @w.job("py.greet")
    def greet(job):
        return {"message": f"hello, {job.args['who']}", "attempt": job.attempt, "wf": job.workflow_id}

    @w.job("py.none")
    def nothing(job):
        return None

    assert w.types == ["py.greet", "py.none"]
    w.start()
    try:
        assert w.wait_registered(5)
        assert w.interval_ms == broker.heartbeat_ms
        st = run_wf(c, workflow([job("py.greet", {"who": "baton"})], [job("py.none")]))
        assert st["state"] == "SUCCEEDED"
        j = st["blocks"][0]["jobs"][0]
        assert j["output"] == {"message": "hello, baton", "attempt": 1, "wf": st["id"]}
        assert "output" not in st["blocks"][1]["jobs"][0]
        d = [e for e in events_of(c, st["id"]) if e["kind"] == "job.dispatched"]
        assert {e["worker"] for e in d} == {"py-deco"}
    finally:
        w.stop()


def test_concurrency_up_to_capacity(broker, c, py_worker):
    lock = threading.Lock()
    now = {"n": 0, "peak": 0}

    def slow(job):
        with lock:
            now["n"] += 1
            now["peak"] = max(now["peak"], now["n"])
        time.sleep(0.3)
        with lock:
            now["n"] -= 1
        return job.args["i"]

    py_worker(broker, {"py.slow": slow}, capacity=3)
    t = time.monotonic()
    st = run_wf(c, {"name": "conc", "blocks": [{"concurrency": 10, "jobs": [job("py.slow", {"i": i}) for i in range(6)]}]})
    took = time.monotonic() - t
    assert st["state"] == "SUCCEEDED"
    assert [j["output"] for j in st["blocks"][0]["jobs"]] == list(range(6))
    assert now["peak"] == 3
    assert took < 1.5  # 2 rounds of 0.3 s, not 6


def test_failures_retryable_and_not(broker, c, py_worker):
    calls = {"flaky": 0}

    def flaky(job):
        calls["flaky"] += 1
        if job.attempt == 1:
            raise ValueError("first attempt breaks")
        return "second attempt works"

    def fatal(job):
        raise JobFailed("bad args, do not retry", retryable=False)

    def not_json(job):
        return {"x": object()}

    py_worker(broker, {"py.flaky": flaky, "py.fatal": fatal, "py.notjson": not_json})
    st = run_wf(c, workflow([job("py.flaky", retry={"max_attempts": 3, "backoff_ms": 0})]))
    assert st["state"] == "SUCCEEDED" and st["blocks"][0]["jobs"][0]["output"] == "second attempt works"
    r = next(e for e in events_of(c, st["id"]) if e["kind"] == "job.retrying")
    assert r["error"] == "ValueError: first attempt breaks"
    st = run_wf(c, workflow([job("py.fatal", retry={"max_attempts": 5})]))
    assert st["reason"] == f"job {st['id']}.0.0 (py.fatal) failed after 1 attempt: bad args, do not retry"
    st = run_wf(c, workflow([job("py.notjson", retry={"max_attempts": 5})]))
    assert st["state"] == "FAILED" and "not JSON" in st["blocks"][0]["jobs"][0]["error"]


def test_heartbeats_keep_a_busy_worker_alive(broker, c, py_worker):
    def long(job):
        time.sleep(1.0)  # 5 intervals: only the I/O thread's beats keep us registered
        return "done"

    py_worker(broker, {"py.long": long})
    st = run_wf(c, workflow([job("py.long", retry={"max_attempts": 1})]))
    assert st["state"] == "SUCCEEDED"
    assert "job.retrying" not in kinds(events_of(c, st["id"]))


def test_cancel_is_honoured_and_no_result_sent(broker, c, py_worker):
    seen = {}
    started = threading.Event()

    def wait_forever(job):
        started.set()
        cancelled = job.wait(10)
        seen["cancelled"], seen["reason"] = cancelled, job.cancel_reason
        return "should not be sent"

    w = py_worker(broker, {"py.wait": wait_forever})
    s = c.submit(workflow([job("py.wait")]))
    c.exec(s.id)
    assert started.wait(5)
    c.cancel(s.id)
    wait_until(lambda: "cancelled" in seen, 3, message="the handler to see the cancel")
    assert seen == {"cancelled": True, "reason": "workflow cancelled"}
    time.sleep(0.1)
    assert w.stats["results"] == 0 and w.stats["cancelled"] == 1
    assert w.running_jobs == []
    assert c.status(s.id)["blocks"][0]["jobs"][0]["state"] == "CANCELLED"


def test_timeout_cancels_the_attempt_and_the_retry_succeeds(broker, c, py_worker):
    def slow_first(job):
        if job.attempt == 1:
            job.wait(0.6)  # ignores the cancel until it is done
            return "too late"
        return "in time"

    w = py_worker(broker, {"py.slowfirst": slow_first})
    st = run_wf(c, workflow([job("py.slowfirst", timeout_ms=250, retry={"max_attempts": 2, "backoff_ms": 0})]))
    assert st["state"] == "SUCCEEDED" and st["blocks"][0]["jobs"][0]["output"] == "in time"
    r = next(e for e in events_of(c, st["id"]) if e["kind"] == "job.retrying")
    assert r["error"] == "timed out after 250 ms"
    time.sleep(0.5)
    assert w.stats["results"] == 1  # the late result of attempt 1 was never sent


def test_stop_without_drain_sends_disconnect_at_once(broker_factory):
    broker = broker_factory(heartbeat_ms=1000)  # silence would take 3 s: DISCONNECT must not
    c = broker.client()
    started = threading.Event()

    def busy(job):
        started.set()
        job.wait(5)
        return "x"

    w = Worker(broker.worker_endpoint, name="leaving", capacity=1)
    w.register("py.busy", busy)
    w.start()
    assert w.wait_registered(5)
    s = c.submit(workflow([job("py.busy", retry={"max_attempts": 2, "backoff_ms": 0})]))
    c.exec(s.id)
    assert started.wait(5)
    t = time.monotonic()
    w.stop(drain=False)
    assert not w._thread.is_alive()
    e = wait_event(c, s.id, "job.retrying", timeout=5)
    assert e["error"] == "worker lost"
    assert time.monotonic() - t < 1.0  # DISCONNECT, not 3 silent intervals
    c.close()


def test_worker_survives_broker_sigkill(broker, c, py_worker):
    runs = []

    def record(job):
        runs.append((job.job_id, job.attempt))
        if job.args.get("slow"):
            job.wait(0.5)
        return job.attempt

    w = py_worker(broker, {"py.rec": record}, name="survivor")
    assert run_wf(c, workflow([job("py.rec")]))["state"] == "SUCCEEDED"
    # a job running when the broker dies is run again after the restart (at least once)
    s = c.submit(workflow([job("py.rec", {"slow": True}, retry={"max_attempts": 3, "backoff_ms": 0})]))
    c.exec(s.id)
    wait_until(lambda: len(runs) == 2, 5, message="the slow job to start")
    connections = w.stats["connections"]
    broker.restart(kill=True)
    st = wait_state(c, s.id, "SUCCEEDED", timeout=10)
    assert w.stats["connections"] > connections  # a fresh socket and READY
    assert st["blocks"][0]["jobs"][0]["attempt"] == 2
    assert runs[-1] == (f"{s.id}.0.0", 2)
    r = next(e for e in events_of(c, s.id) if e["kind"] == "job.retrying")
    assert r["error"] == "broker restarted while the attempt ran"
    assert run_wf(c, workflow([job("py.rec")]))["state"] == "SUCCEEDED"


def test_worker_waits_out_a_graceful_broker_restart(broker, c, py_worker):
    w = py_worker(broker, {"py.echo": lambda job: job.args})
    assert broker.terminate() == 0  # DISCONNECT "broker shutting down"
    wait_until(lambda: w.stats["disconnects"] >= 1, 3, message="the worker to get DISCONNECT")
    time.sleep(0.3)  # the broker stays down a little
    broker.start()
    assert w.wait_registered(5)
    assert run_wf(c, workflow([job("py.echo", {"back": True})]))["blocks"][0]["jobs"][0]["output"] == {"back": True}


def test_rejected_ready_backs_off(broker):
    w = Worker(broker.worker_endpoint, name="n" * 300, capacity=1)  # a name the broker rejects
    w.register("py.x", lambda job: None)
    w.start()
    try:
        time.sleep(0.8)
        assert not w.registered.is_set()
        assert w.stats["disconnects"] == 1 and w.stats["connections"] == 1  # waits 1 s before retrying
    finally:
        w.stop()


def test_silent_broker_means_reconnect(broker, c, py_worker):
    """No message for 3 intervals: fresh socket and READY, again and again, until the
    broker is back (9.4 step 4)."""
    w = py_worker(broker, {"py.echo": lambda job: job.args})
    before = w.stats["connections"]
    broker.kill()
    time.sleep(1.0)  # 5 intervals of 200 ms
    assert w.stats["connections"] >= before + 1
    assert not w.registered.is_set()
    broker.start()
    assert w.wait_registered(5)
    assert run_wf(c, workflow([job("py.echo", {"n": 1})]))["blocks"][0]["jobs"][0]["output"] == {"n": 1}


def test_an_output_over_the_brokers_limit_fails_cleanly_and_the_worker_goes_on(broker_factory):
    """The HEARTBEAT answering READY says max_output_bytes (spec 9.2, 9.3); a bigger
    RESULT goes out as a non-retryable failure naming the limit, and the next job runs."""
    b = broker_factory(max_message_bytes=4096)
    c = b.client()
    w = Worker(b.worker_endpoint, name="py-big", capacity=1)

    @w.job("py.blob")
    def blob(job):
        return {"blob": "x" * job.args["n"]}

    w.start()
    try:
        assert w.wait_registered(5)
        assert w.max_output_bytes == 4096
        big = run_wf(c, workflow([job("py.blob", {"n": 5000}, retry={"max_attempts": 3, "backoff_ms": 0})]))
        assert big["state"] == "FAILED"
        j = big["blocks"][0]["jobs"][0]
        assert j["attempt"] == 1, "not retried: it would be as large again"
        assert "over the broker's max_output_bytes (4096)" in j["error"]
        assert "output" not in j
        assert run_wf(c, workflow([job("py.blob", {"n": 10})]))["state"] == "SUCCEEDED"
    finally:
        w.stop()
        c.close()


# ------------------------------------------------------------------ async handlers


def test_async_handlers_run_to_completion(broker, c, py_worker):
    """An ``async def`` handler's coroutine is awaited: its value is the output, its
    exception the attempt's failure (before: the coroutine object itself was sent and
    the job failed with "output is not JSON")."""
    async def greet(job):
        await asyncio.sleep(0.05)
        return {"hello": job.args["who"], "attempt": job.attempt}

    async def flaky(job):
        await asyncio.sleep(0)
        if job.attempt == 1:
            raise ValueError("async first attempt breaks")
        return "async second attempt works"

    py_worker(broker, {"py.agreet": greet, "py.aflaky": flaky})
    st = run_wf(c, workflow([job("py.agreet", {"who": "aio"}), job("py.aflaky", retry={"max_attempts": 2, "backoff_ms": 0})]))
    assert st["state"] == "SUCCEEDED", st
    assert [j["output"] for j in st["blocks"][0]["jobs"]] == [{"hello": "aio", "attempt": 1}, "async second attempt works"]
    r = next(e for e in events_of(c, st["id"]) if e["kind"] == "job.retrying")
    assert r["error"] == "ValueError: async first attempt breaks"


def test_an_async_handler_is_cancelled_with_its_attempt(broker, c, py_worker):
    started, seen = threading.Event(), {}

    async def forever(job):
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen["cancelled"] = job.cancel_reason
            raise
        return "should not be sent"

    w = py_worker(broker, {"py.aforever": forever})
    s = c.submit(workflow([job("py.aforever")]))
    c.exec(s.id)
    assert started.wait(5)
    c.cancel(s.id)
    wait_until(lambda: "cancelled" in seen, 3, message="the coroutine to be cancelled")
    assert seen == {"cancelled": "workflow cancelled"}
    time.sleep(0.1)
    assert w.stats["results"] == 0 and w.running_jobs == []


# ------------------------------------------------------------------ capacity, locally


def test_capacity_is_enforced_locally_even_when_a_broker_sends_more():
    """A broker (here a fake one) that sends more JOBs than the READY's capacity: at
    most `capacity` handlers run at once, the others wait their turn, and every one
    reports (before: one thread per JOB, all at once)."""
    router = CTX.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    lock, now = threading.Lock(), {"n": 0, "peak": 0}

    def slow(job):
        with lock:
            now["n"] += 1
            now["peak"] = max(now["peak"], now["n"])
        time.sleep(0.2)
        with lock:
            now["n"] -= 1
        return job.args["i"]

    w = Worker(f"tcp://127.0.0.1:{port}", name="bounded", capacity=2)
    w.register("py.slow", slow)
    w.start()

    def send(rid, command, body):
        router.send_multipart([rid, b"", b"BATON-W/1", command.encode(), json.dumps(body).encode()])

    try:
        assert router.poll(5000), "no READY"
        rid, _, _, command, body = router.recv_multipart()
        assert command == b"READY" and json.loads(body)["capacity"] == 2
        send(rid, "HEARTBEAT", {"interval_ms": 1000})
        for i in range(6):
            send(rid, "JOB", {"job_id": f"j{i}", "workflow_id": "wf", "attempt": 1, "type": "py.slow",
                              "args": {"i": i}, "timeout_ms": 0})
        results = {}
        deadline = time.monotonic() + 10
        while len(results) < 6 and time.monotonic() < deadline:
            if not router.poll(100):
                continue
            _, _, _, command, body = router.recv_multipart()
            if command == b"RESULT":
                r = json.loads(body)
                results[r["job_id"]] = r
            elif command == b"HEARTBEAT":
                send(rid, "HEARTBEAT", {"interval_ms": 1000})
        assert sorted(results) == [f"j{i}" for i in range(6)]
        assert all(r["ok"] and r["output"] == int(r["job_id"][1:]) for r in results.values())
        assert now["peak"] == 2
    finally:
        w.stop(drain=False)
        router.close(linger=0)


# ------------------------------------------------------------------ draining, BaseException


def test_stop_drains_running_jobs_before_it_leaves(broker, c):
    """stop() takes no new jobs, lets the running handlers finish and report, and only
    then sends DISCONNECT: nothing is re-run (before: the handlers were abandoned and
    their attempts ended as `worker lost`). Holds whether or not the broker accepts
    READY capacity 0 (a broker that refuses it keeps the worker as it was)."""
    started, finished = [], []

    def steady(job):
        started.append(job.job_id)
        time.sleep(0.8)  # not job.wait: nothing may cut it short
        finished.append((job.job_id, job.is_cancelled))
        return {"done": job.args["i"]}

    w = Worker(broker.worker_endpoint, name="drainer", capacity=2, drain_timeout=10)
    w.register("py.steady", steady)
    w.start()
    assert w.wait_registered(5)
    spec = {"name": "drain", "blocks": [{"concurrency": 2, "jobs": [
        job("py.steady", {"i": i}, retry={"max_attempts": 1}) for i in range(2)]}]}
    s = c.submit(spec)
    c.exec(s.id)
    wait_until(lambda: len(started) == 2, 5, message="both jobs to start")
    t = time.monotonic()
    w.stop()  # blocks until drained
    took = time.monotonic() - t
    assert not w._thread.is_alive()
    assert sorted(finished) == [(f"{s.id}.0.0", False), (f"{s.id}.0.1", False)], "a handler was cut short"
    assert w.stats["results"] == 2
    assert took < 5
    st = wait_state(c, s.id, ("SUCCEEDED", "FAILED"), timeout=5)
    assert st["state"] == "SUCCEEDED"
    assert [(j["attempt"], j["output"]) for j in st["blocks"][0]["jobs"]] == [(1, {"done": 0}), (1, {"done": 1})]
    assert "job.retrying" not in kinds(events_of(c, s.id))


def test_a_draining_worker_is_sent_no_new_job(broker, c):
    """READY with capacity 0 while draining: the broker sends no new JOB. Depends on a
    broker that supports drains (its HEARTBEAT's features hold "drain")."""
    started = []
    w = Worker(broker.worker_endpoint, name="drainer2", capacity=2, drain_timeout=10)

    @w.job("py.hold")
    def hold(job):
        started.append(job.workflow_id)
        time.sleep(1.0)
        return "held"

    w.start()
    assert w.wait_registered(5)
    if "drain" not in w.broker_features:
        w.stop(drain=False)
        pytest.skip("this broker does not support drains (READY capacity 0)")
    first = c.submit(workflow([job("py.hold")]))
    c.exec(first.id)
    wait_until(lambda: started, 5, message="the first job to start")
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    wait_until(lambda: w.draining, 2, message="the drain to start")
    time.sleep(0.2)  # the READY with capacity 0 reaches the broker
    second = c.submit(workflow([job("py.hold")]))
    c.exec(second.id)
    assert wait_state(c, first.id, "SUCCEEDED", timeout=5)["state"] == "SUCCEEDED"
    stopper.join(10)
    assert not stopper.is_alive()
    assert started == [first.id], "the draining worker got a new job"
    assert "job.dispatched" not in kinds(events_of(c, second.id))
    c.cancel(second.id)


def test_drain_timeout_cancels_what_still_runs(broker, c):
    started, seen = threading.Event(), {}

    def stubborn(job):
        started.set()
        seen["cancelled"] = job.wait(5)
        seen["reason"] = job.cancel_reason
        return "late"

    w = Worker(broker.worker_endpoint, name="impatient", capacity=1, drain_timeout=0.3)
    w.register("py.stubborn", stubborn)
    w.start()
    assert w.wait_registered(5)
    s = c.submit(workflow([job("py.stubborn", retry={"max_attempts": 2, "backoff_ms": 0})]))
    c.exec(s.id)
    assert started.wait(5)
    t = time.monotonic()
    w.stop()
    assert time.monotonic() - t < 2
    wait_until(lambda: "reason" in seen, 3, message="the handler to see the cancel")
    assert seen == {"cancelled": True, "reason": "worker stopping"}
    assert wait_event(c, s.id, "job.retrying", timeout=5)["error"] == "worker lost"


@pytest.mark.parametrize("exc", [SystemExit("bye"), KeyboardInterrupt()], ids=["SystemExit", "KeyboardInterrupt"])
def test_base_exceptions_stop_the_worker_and_are_not_job_failures(broker, c, exc):
    """A handler raising SystemExit or KeyboardInterrupt: no failed RESULT (before:
    "SystemExit: bye" as a retryable failure, and the worker went on); the worker
    leaves at once (the attempt is retried as `worker lost`) and run() raises it."""
    w = Worker(broker.worker_endpoint, name="exiting", capacity=1)

    @w.job("py.exit")
    def bye(job):
        raise exc

    outcome = {}

    def runner():
        try:
            w.run()
        except BaseException as e:  # noqa: BLE001 - what the test looks at
            outcome["raised"] = e

    t = threading.Thread(target=runner)
    t.start()
    try:
        assert w.wait_registered(5)
        s = c.submit(workflow([job("py.exit", retry={"max_attempts": 2, "backoff_ms": 0})]))
        c.exec(s.id)
        t.join(5)
        assert not t.is_alive(), "the worker went on"
        assert outcome.get("raised") is exc
        assert w.fatal is exc
        assert wait_event(c, s.id, "job.retrying", timeout=5)["error"] == "worker lost"
        assert w.stats["results"] == 0
    finally:
        w.stop(drain=False)
        t.join(5)


# ------------------------------------------------------------------ long jobs: PROGRESS (spec 9.2)


def test_heartbeat_keeps_a_long_job_alive_and_shows_in_status(broker, c):
    """job.heartbeat(details) sends PROGRESS: a job five times longer than its
    heartbeat_timeout_ms succeeds on attempt 1, STATUS shows the last details while it
    runs, and a job.progress event carries them."""
    def long(job):
        assert job.heartbeat_timeout == 0.5
        for i in range(15):
            job.heartbeat({"step": i})
            if job.wait(0.15):
                return None
        return {"steps": 15}

    w = Worker(broker.worker_endpoint, name="beater", capacity=1)
    w.register("py.long", long)
    w.start()
    try:
        assert w.wait_registered(5)
        s = c.submit({"name": "long", "blocks": [{"jobs": [
            job("py.long", heartbeat_timeout_ms=500, retry={"max_attempts": 1})]}]})
        c.exec(s.id)
        wait_until(lambda: "progress" in c.status(s.id)["blocks"][0]["jobs"][0], 5, message="progress in STATUS")
        running = c.status(s.id)["blocks"][0]["jobs"][0]
        assert running["state"] == "RUNNING" and "step" in running["progress"] and "progress_at" in running
        st = wait_state(c, s.id, ("SUCCEEDED", "FAILED"), timeout=10)
        assert st["state"] == "SUCCEEDED", st
        assert st["blocks"][0]["jobs"][0]["attempt"] == 1
        beats = [e for e in events_of(c, s.id) if e["kind"] == "job.progress"]
        assert beats and beats[0]["details"] == {"step": 0} and beats[0]["attempt"] == 1
    finally:
        w.stop(drain=False)


def test_a_silent_long_job_is_lost_after_its_heartbeat_timeout(broker, c):
    def silent(job):
        job.wait(3)  # no heartbeat: the broker ends the attempt and sends CANCEL
        return {"too": "late"}

    w = Worker(broker.worker_endpoint, name="silent", capacity=1)
    w.register("py.silent", silent)
    w.start()
    try:
        assert w.wait_registered(5)
        s = c.submit({"name": "silent", "blocks": [{"jobs": [
            job("py.silent", heartbeat_timeout_ms=400, retry={"max_attempts": 1})]}]})
        c.exec(s.id)
        st = wait_state(c, s.id, ("SUCCEEDED", "FAILED"), timeout=10)
        assert st["state"] == "FAILED"
        assert st["blocks"][0]["jobs"][0]["error"] == "heartbeat timeout: no PROGRESS for 400 ms (heartbeat_timeout_ms)"
    finally:
        w.stop(drain=False)


def test_a_rolling_restart_of_every_python_worker_reruns_nothing(broker, c):
    """Each old worker drains (stop()) while a new one joins: with max_attempts 1 a
    re-run would fail the workflow, and every job keeps attempt 1."""
    def steady(job):
        time.sleep(0.8)
        return {"i": job.args["i"]}

    def worker(name):
        w = Worker(broker.worker_endpoint, name=name, capacity=2, drain_timeout=10)
        w.register("py.roll", steady)
        w.start()
        assert w.wait_registered(5)
        return w

    old = [worker("old-1"), worker("old-2")]
    s = c.submit({"name": "roll", "blocks": [{"concurrency": 4, "jobs": [
        job("py.roll", {"i": i}, retry={"max_attempts": 1}) for i in range(8)]}]})
    c.exec(s.id)
    wait_until(lambda: sum(j["state"] == "RUNNING" for j in c.status(s.id)["blocks"][0]["jobs"]) == 4, 5,
               message="four jobs running")
    new = []
    for w, name in zip(old, ("new-1", "new-2")):
        threading.Thread(target=w.stop).start()  # drains in the background
        new.append(worker(name))
    try:
        st = wait_state(c, s.id, ("SUCCEEDED", "FAILED"), timeout=20)
        assert st["state"] == "SUCCEEDED", st
        assert [j["attempt"] for j in st["blocks"][0]["jobs"]] == [1] * 8
        dispatched = [e["worker"] for e in events_of(c, s.id) if e["kind"] == "job.dispatched"]
        assert len(dispatched) == 8 and {"old-1", "old-2"} <= set(dispatched), dispatched
    finally:
        for w in new:
            w.stop(drain=False)
