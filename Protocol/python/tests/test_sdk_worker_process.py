"""Process jobs (Worker(executor="process"), @worker.job(type, executor="process")):
each attempt runs in a process of its own, against the real broker. The handlers live
in process_jobs.py: a process job's handler is pickled to its process."""

import os
import threading
import time

import pytest

import process_jobs
from baton import Worker
from helpers import events_of, job, kinds, wait_event, wait_state, wait_until, workflow


@pytest.fixture
def c(broker):
    client = broker.client()
    yield client
    client.close()


@pytest.fixture
def workers():
    made = []

    def make(broker, handlers, **kw):
        kw.setdefault("name", f"proc{len(made) + 1}")
        w = Worker(broker.worker_endpoint, **kw)
        for t, h in handlers.items():
            if isinstance(h, tuple):
                w.register(t, h[0], executor=h[1])
            else:
                w.register(t, h)
        w.start()
        made.append(w)
        assert w.wait_registered(10)
        return w

    yield make
    for w in made:
        w.stop(timeout=10, drain=False)


def run_wf(c, spec, timeout=20):
    s = c.submit(spec)
    c.exec(s.id)
    return wait_state(c, s.id, ("SUCCEEDED", "FAILED", "CANCELLED"), timeout=timeout)


def gone(pid):
    """Whether process `pid` no longer runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        # The process can end between the open and the read: the read then fails with
        # ESRCH (ProcessLookupError), which also means it is gone.
        return True


def read_pids(d):
    path = os.path.join(d, "pids")
    wait_until(lambda: os.path.exists(path), 10, message="the job to write its pids")
    with open(path) as f:
        return [int(p) for p in f.read().split()]


@pytest.mark.timeout_s(60)
def test_cpu_bound_jobs_run_in_processes_of_their_own_up_to_capacity(broker, c, workers):
    w = workers(broker, {"py.primes": process_jobs.primes}, executor="process", capacity=2)
    assert w.executor_of("py.primes") == "process"
    st = run_wf(c, {"name": "cpu", "blocks": [{"concurrency": 4, "jobs": [
        job("py.primes", {"n": 3000, "sleep": 0.4}) for _ in range(4)]}]})
    assert st["state"] == "SUCCEEDED", st
    outs = [j["output"] for j in st["blocks"][0]["jobs"]]
    assert {o["primes"] for o in outs} == {430}
    assert {o["workflow_id"] for o in outs} == {st["id"]} and {o["attempt"] for o in outs} == {1}
    pids = {o["pid"] for o in outs}
    assert len(pids) == 4 and os.getpid() not in pids, "one process per attempt, not this one"
    assert all(o["pgid"] == o["pid"] for o in outs), "each leads a process group of its own"
    # capacity 2: never more than two processes at once (time.monotonic is system-wide)
    spans = [(o["start"], o["end"]) for o in outs]
    peak = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert peak == 2, spans
    assert all(gone(p) for p in pids)


@pytest.mark.timeout_s(60)
def test_job_heartbeat_from_a_process_reaches_the_broker(broker, c, workers):
    """job.heartbeat in the job's process goes through a pipe to the worker, which sends
    PROGRESS: a job three times longer than its heartbeat_timeout_ms succeeds."""
    workers(broker, {"py.beating": (process_jobs.beating, "process")})
    st = run_wf(c, {"name": "beats", "blocks": [{"jobs": [
        job("py.beating", {"steps": 10, "every": 0.15}, heartbeat_timeout_ms=500, retry={"max_attempts": 1})]}]})
    assert st["state"] == "SUCCEEDED", st
    assert st["blocks"][0]["jobs"][0]["output"] == {"steps": 10}
    beats = [e for e in events_of(c, st["id"]) if e["kind"] == "job.progress"]
    assert beats and beats[0]["details"]["step"] == 0 and beats[0]["details"]["pid"] != os.getpid()


@pytest.mark.timeout_s(60)
def test_exceptions_in_a_process_job_fail_it_with_their_message(broker, c, workers):
    w = workers(broker, {"py.broken": (process_jobs.broken, "process"), "py.primes": process_jobs.primes})
    assert w.executor_of("py.primes") == "thread"
    once = {"retry": {"max_attempts": 1}}
    st = run_wf(c, workflow([job("py.broken", {"kind": "value", "n": 7}, retry={"max_attempts": 2, "backoff_ms": 0})]))
    assert st["state"] == "FAILED"
    assert st["blocks"][0]["jobs"][0]["error"] == "ValueError: bad input 7"
    assert st["blocks"][0]["jobs"][0]["attempt"] == 2, "an exception is retryable"
    st = run_wf(c, workflow([job("py.broken", {"kind": "fatal"}, retry={"max_attempts": 3})]))
    assert st["blocks"][0]["jobs"][0]["error"] == "do not retry this" and st["blocks"][0]["jobs"][0]["attempt"] == 1
    st = run_wf(c, workflow([job("py.broken", {"kind": "exit"}, **once)]))
    assert st["blocks"][0]["jobs"][0]["error"] == "SystemExit: 3", "in its own process, a job's failure"
    st = run_wf(c, workflow([job("py.broken", {"kind": "sigkill"}, **once)]))
    assert st["blocks"][0]["jobs"][0]["error"] == "the job's process was killed by SIGKILL before it returned"
    st = run_wf(c, workflow([job("py.broken", {"kind": "not_json"}, retry={"max_attempts": 3})]))
    assert "not JSON" in st["blocks"][0]["jobs"][0]["error"] and st["blocks"][0]["jobs"][0]["attempt"] == 1
    # the worker goes on, and a thread job still runs in this process
    st = run_wf(c, workflow([job("py.primes", {"n": 10})]))
    assert st["state"] == "SUCCEEDED" and st["blocks"][0]["jobs"][0]["output"]["pid"] == os.getpid()
    assert w._thread.is_alive() and w.fatal is None


@pytest.mark.timeout_s(60)
def test_cancel_terminates_a_process_job_and_its_subprocesses(broker, c, workers, tmp_path):
    """CANCEL: SIGTERM to the job's process group: JobCancelled inside the handler (its
    `finally` runs), its `sleep` subprocess ends too, and no RESULT is sent."""
    w = workers(broker, {"py.forever": (process_jobs.forever, "process")})
    s = c.submit(workflow([job("py.forever", {"dir": str(tmp_path)})]))
    c.exec(s.id)
    pid, child = read_pids(str(tmp_path))
    t = time.monotonic()
    c.cancel(s.id)
    wait_until(lambda: gone(pid) and gone(child), 5, message="the job's processes to end")
    assert time.monotonic() - t < w.kill_grace, "SIGTERM, not the SIGKILL after kill_grace"
    assert (tmp_path / "cleaned").read_text() == "terminated"
    time.sleep(0.2)
    assert w.stats["results"] == 0 and w.running_jobs == []
    assert c.status(s.id)["blocks"][0]["jobs"][0]["state"] == "CANCELLED"


@pytest.mark.timeout_s(60)
def test_timeout_kills_a_process_job_that_ignores_sigterm(broker, c, workers, tmp_path):
    """timeout_ms passes: the process is signalled; one that ignores SIGTERM is SIGKILLed
    after kill_grace; the retry runs, and the late attempt sends nothing."""
    w = workers(broker, {"py.forever": (process_jobs.forever, "process")}, kill_grace=0.5)
    s = c.submit(workflow([job("py.forever", {"dir": str(tmp_path), "deaf": True}, timeout_ms=600,
                               retry={"max_attempts": 1})]))
    c.exec(s.id)
    pid, child = read_pids(str(tmp_path))
    st = wait_state(c, s.id, "FAILED", timeout=10)
    assert st["blocks"][0]["jobs"][0]["error"] == "timed out after 600 ms"
    t = time.monotonic()
    wait_until(lambda: gone(pid) and gone(child), 5, message="the deaf process to be killed")
    assert time.monotonic() - t < 2.0
    assert not (tmp_path / "cleaned").exists(), "SIGKILL: no cleanup ran"
    assert w.stats["results"] == 0


@pytest.mark.timeout_s(60)
def test_drain_waits_for_running_process_jobs(broker, c):
    w = Worker(broker.worker_endpoint, name="proc-drain", capacity=2, drain_timeout=10, executor="process")
    w.register("py.steady", process_jobs.steady)
    w.start()
    assert w.wait_registered(5)
    s = c.submit({"name": "drain", "blocks": [{"concurrency": 2, "jobs": [
        job("py.steady", {"sleep": 1.0, "i": i}, retry={"max_attempts": 1}) for i in range(2)]}]})
    c.exec(s.id)
    wait_until(lambda: len(w.running_jobs) == 2, 5, message="both jobs to start")
    time.sleep(0.3)
    t = time.monotonic()
    w.stop()  # drains: blocks until both processes reported
    assert not w._thread.is_alive()
    assert time.monotonic() - t < 5
    assert w.stats["results"] == 2
    st = wait_state(c, s.id, ("SUCCEEDED", "FAILED"), timeout=5)
    assert st["state"] == "SUCCEEDED", st
    assert [j["output"]["done"] for j in st["blocks"][0]["jobs"]] == [0, 1]
    assert "job.retrying" not in kinds(events_of(c, s.id))


@pytest.mark.timeout_s(60)
def test_drain_timeout_terminates_process_jobs(broker, c, tmp_path):
    w = Worker(broker.worker_endpoint, name="proc-impatient", capacity=1, drain_timeout=0.3, executor="process")
    w.register("py.forever", process_jobs.forever)
    w.start()
    assert w.wait_registered(5)
    s = c.submit(workflow([job("py.forever", {"dir": str(tmp_path)}, retry={"max_attempts": 2, "backoff_ms": 0})]))
    c.exec(s.id)
    pid, child = read_pids(str(tmp_path))
    w.stop()
    wait_until(lambda: gone(pid) and gone(child), 5, message="the job's processes to end")
    assert (tmp_path / "cleaned").read_text() == "terminated"
    assert wait_event(c, s.id, "job.retrying", timeout=5)["error"] == "worker lost"


def test_a_handler_that_cannot_be_pickled_is_refused_at_start(broker):
    def nested(job):
        return None

    for handler in (lambda job: None, nested):
        w = Worker(broker.worker_endpoint, name="unpicklable", executor="process")
        w.register("py.local", handler)
        with pytest.raises(TypeError, match="must be picklable"):
            w.start()
        w.register("py.local", handler, executor="thread")  # in a thread it is fine
        w.start()
        try:
            assert w.wait_registered(5)
        finally:
            w.stop(drain=False)
    with pytest.raises(ValueError, match="executor"):
        Worker(broker.worker_endpoint, executor="greenlet")
    with pytest.raises(ValueError, match="executor"):
        Worker(broker.worker_endpoint).register("py.x", process_jobs.primes, executor="proc")


@pytest.mark.timeout_s(60)
@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_other_start_methods(broker, c, workers, method):
    workers(broker, {"py.primes": (process_jobs.primes, "process")}, start_method=method)
    st = run_wf(c, workflow([job("py.primes", {"n": 100})]))
    assert st["state"] == "SUCCEEDED", st
    assert st["blocks"][0]["jobs"][0]["output"]["primes"] == 25
    assert st["blocks"][0]["jobs"][0]["output"]["pid"] != os.getpid()
