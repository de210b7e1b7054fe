"""The emergency stop: STOP, RESUME, the STOPPED state and EXEC after it (spec 4.3.8, 6.1,
7, 8), on the wire and through the SDK (``Client.stop``, ``Client.go``, ``run``/``resume``)."""

import json
import threading
import uuid

import pytest

from baton import Client, Stopped, is_final, is_settled
from helpers import events_of, job, kinds, wait_event, wait_state, workflow

NOBODY = "nobody.declares.this"  # a job type no worker serves: its jobs stay PENDING


def unique(prefix="stop"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def running(c, name, type_=NOBODY):
    """A RUNNING workflow named `name` whose one job waits for a worker of `type_`."""
    s = c.submit(workflow([job(type_)], name=name))
    assert c.exec(s.id)["state"] == "RUNNING"
    return s.id


@pytest.fixture
def c(broker):
    client = broker.client()
    yield client
    client.close()


def assert_stopped_error(excinfo, name, reason):
    e = excinfo.value
    assert (e.code, e.name, e.reason, e.retryable) == ("stopped", name, reason, True), (e, e.details)


# ------------------------------------------------------------------ STOP and EXEC after RESUME


def test_stop_cancels_the_attempt_and_exec_continues_without_rerunning(broker, c, raw_workers):
    """A block of two jobs: one SUCCEEDED before the stop, one RUNNING with max_attempts 1.
    The stop CANCELs the running attempt without counting it; after RESUME, EXEC runs
    that job again as attempt 2 and never the succeeded one."""
    w = raw_workers(broker)
    w.ready(types=("echo", "sleep"), capacity=2)
    name = unique()
    spec = workflow([job("echo"), job("sleep", {"ms": 60000}, retry={"max_attempts": 1})], name=name)
    spec["blocks"][0]["concurrency"] = 2
    s = c.submit(spec)
    c.exec(s.id)
    first = [w.expect("JOB"), w.expect("JOB")]
    echo = next(j for j in first if j["type"] == "echo")
    held = next(j for j in first if j["type"] == "sleep")
    w.result(echo, output={"ran": 1})
    wait_event(c, s.id, "job.succeeded")

    assert c.stop(name, "drill") == 1
    cancel = w.expect("CANCEL")
    assert (cancel["job_id"], cancel["attempt"]) == (held["job_id"], held["attempt"])
    # A worker that missed the CANCEL: its late RESULT is fenced off (the job runs again below).
    w.result(held, output={"late": True})
    st = c.status(s.id)
    assert (st["state"], st["reason"]) == ("STOPPED", "stopped: drill")
    assert is_settled(st["state"]) and not is_final(st["state"])
    jobs = st["blocks"][0]["jobs"]
    assert [(j["state"], j["attempt"]) for j in jobs] == [("SUCCEEDED", 1), ("PENDING", 1)]
    ev = events_of(c, s.id)
    stopped = [e for e in ev if e["kind"] == "job.stopped"]
    assert [(e["job_id"], e["attempt"]) for e in stopped] == [(held["job_id"], 1)]
    # §7 gives the event a `reason` without saying whether it has STATUS's "stopped: "
    # prefix (this broker sends the stop's reason as given): accept either.
    assert ev[-1]["kind"] == "workflow.stopped" and ev[-1]["reason"].endswith("drill")
    assert "job.cancelled" not in kinds(ev)

    # While the stop is in force: SUBMIT and EXEC of the name are refused, nothing stored.
    with pytest.raises(Stopped) as e:
        c.submit(workflow([job("echo")], name=name))
    assert_stopped_error(e, name, "drill")
    with pytest.raises(Stopped) as e:
        c.exec(s.id)
    assert_stopped_error(e, name, "drill")
    assert [x["id"] for x in c.list(name=name)["workflows"]] == [s.id]
    assert c.stop(name, "drill, again") == 0  # idempotent: nothing new to stop

    c.go(name)
    assert c.exec(s.id)["state"] == "RUNNING"
    again = w.expect("JOB")
    assert (again["job_id"], again["attempt"]) == (held["job_id"], 2)
    w.result(again, output={"ran": 2})
    st = wait_state(c, s.id, "SUCCEEDED")
    jobs = st["blocks"][0]["jobs"]
    assert [(j["state"], j["attempt"], j["output"]) for j in jobs] == [("SUCCEEDED", 1, {"ran": 1}),
                                                                      ("SUCCEEDED", 2, {"ran": 2})]
    assert w.quiet(0.3) == []  # the succeeded echo was never sent again
    assert kinds(events_of(c, s.id))[-3:] == ["job.succeeded", "block.succeeded", "workflow.succeeded"]


def test_stop_with_a_swift_worker_and_exec_after_go(broker, c, swift_worker):
    """The Swift worker's attempt is cancelled by the stop, and the job, with max_attempts
    1, runs again as attempt 2 once EXEC continues the workflow."""
    swift_worker(broker, types="sleep", capacity=1)
    name = unique()
    s = c.submit(workflow([job("sleep", {"ms": 60000}, retry={"max_attempts": 1})], name=name))
    c.exec(s.id)
    wait_event(c, s.id, "job.dispatched")
    assert c.stop(name, "sleeping too long") == 1
    wait_event(c, s.id, "job.stopped", attempt=1)
    assert c.status(s.id)["state"] == "STOPPED"
    c.go(name)
    assert c.exec(s.id)["state"] == "RUNNING"
    wait_event(c, s.id, "job.dispatched", attempt=2)
    st = c.cancel(s.id)
    assert st["state"] == "CANCELLED" and st["blocks"][0]["jobs"][0]["attempt"] == 2


def test_cancel_ends_a_stopped_workflow(c):
    name = unique()
    wid = running(c, name)
    assert c.stop(name, "no more") == 1
    st = c.cancel(wid)
    assert (st["state"], st["reason"]) == ("CANCELLED", "cancelled by client")
    assert kinds(events_of(c, wid))[-2:] == ["workflow.stopped", "workflow.cancelled"]
    c.go(name)
    assert c.exec(wid)["state"] == "CANCELLED"


def test_stop_covers_running_workflows_only(c):
    name = unique()
    wid = running(c, name)
    submitted = c.submit(workflow([job(NOBODY)], name=name)).id
    other = running(c, unique("other"))
    assert c.stop(name, "r") == 1
    assert [c.status(x)["state"] for x in (wid, submitted, other)] == ["STOPPED", "SUBMITTED", "RUNNING"]
    with pytest.raises(Stopped) as e:
        c.exec(submitted)
    assert_stopped_error(e, name, "r")
    assert c.status(submitted)["state"] == "SUBMITTED"
    c.go(name)
    c.go(name)  # lifting a lifted stop is a no-op
    assert c.exec(submitted)["state"] == "RUNNING"


def test_stop_every_name_and_resume_lifts_exactly_that_stop(c):
    a, b = unique("a"), unique("b")
    wa, wb = running(c, a), running(c, b)
    waiting = c.submit(workflow([job(NOBODY)], name=b)).id
    assert c.stop(a, "just a") == 1
    assert c.stop("*", "everything") == 1  # a is already STOPPED
    assert [c.status(x)["state"] for x in (wa, wb, waiting)] == ["STOPPED", "STOPPED", "SUBMITTED"]
    with pytest.raises(Stopped) as e:
        c.submit(workflow([job("echo")], name=unique("new")))
    assert_stopped_error(e, "*", "everything")
    with pytest.raises(Stopped) as e:
        c.exec(waiting)
    assert_stopped_error(e, "*", "everything")

    c.go(b)  # b has no stop of its own: "*" still holds
    with pytest.raises(Stopped) as e:
        c.exec(wb)
    assert_stopped_error(e, "*", "everything")
    c.go("*")  # lifts "*" only: the stop of a stays
    with pytest.raises(Stopped) as e:
        c.exec(wa)
    assert_stopped_error(e, a, "just a")
    assert c.exec(wb)["state"] == "RUNNING"
    assert c.exec(waiting)["state"] == "RUNNING"
    c.go(a)
    assert c.exec(wa)["state"] == "RUNNING"


def test_stop_survives_a_broker_restart(broker, c):
    name = unique()
    wid = running(c, name)
    assert c.stop(name, "kept") == 1
    broker.restart(kill=True)
    st = c.status(wid)
    assert (st["state"], st["reason"]) == ("STOPPED", "stopped: kept")
    with pytest.raises(Stopped) as e:
        c.submit(workflow([job("echo")], name=name))
    assert_stopped_error(e, name, "kept")
    with pytest.raises(Stopped):
        c.exec(wid)
    c.go(name)
    broker.restart(kill=True)  # the lift is stored too
    assert c.exec(wid)["state"] == "RUNNING"


# ------------------------------------------------------------------ bodies


def test_stop_and_resume_replies(raw_clients, broker):
    raw = raw_clients(broker)
    name = unique()
    assert raw.request("STOP", {"name": name, "reason": "r"}, tag=b"s") == ("OK", b"s", {"name": name, "stopped": 0})
    assert raw.request("RESUME", {"name": name}, tag=b"r") == ("OK", b"r", {"name": name})


@pytest.mark.parametrize("command, body", [
    ("STOP", {}),
    ("STOP", {"name": "x"}),
    ("STOP", {"reason": "r"}),
    ("STOP", {"name": "", "reason": "r"}),
    ("STOP", {"name": "x", "reason": ""}),
    ("STOP", {"name": 5, "reason": "r"}),
    ("STOP", {"name": "x", "reason": ["r"]}),
    ("STOP", {"name": "x" * 257, "reason": "r"}),
    ("STOP", {"name": "x", "reason": "r" * 1025}),
    ("RESUME", {}),
    ("RESUME", {"name": ""}),
    ("RESUME", {"name": None}),
    ("RESUME", {"name": "x" * 257}),
])
def test_malformed_stop_and_resume_are_bad_requests(raw_clients, broker, command, body):
    name, tag, reply = raw_clients(broker).request(command, body, tag=b"m")
    assert (name, tag, reply["code"]) == ("ERROR", b"m", "bad_request"), reply
    assert set(reply) == {"code", "message"}


def test_longest_reason_is_accepted(c):
    name = unique()
    assert c.stop(name, "r" * 1024) == 0
    with pytest.raises(Stopped) as e:
        c.submit(workflow([job("echo")], name=name))
    assert_stopped_error(e, name, "r" * 1024)
    c.go(name)


# ------------------------------------------------------------------ the journaled handshake


def journal_steps(path, key=None):
    lines = [json.loads(x) for x in open(path, encoding="utf-8").read().splitlines()]
    return [(x["step"], x.get("state")) for x in lines if key is None or x["key"] == key]


def test_run_returns_on_stopped_and_resume_continues_after_go(broker, c, py_worker, tmp_path):
    """`run` returns the STOPPED status without journaling it finished; `resume` raises
    `Stopped` while the stop holds, and after `go` sends EXEC and follows it to the end."""
    attempts = []

    def hold_first_attempt(j):
        attempts.append(j.attempt)
        if j.attempt == 1:
            j.wait(30)  # until the stop cancels it
            j.check_cancelled()
        return {"attempt": j.attempt}

    py_worker(broker, {"hold": hold_first_attempt})
    journal = str(tmp_path / "journal.jsonl")
    name = unique("journaled")
    spec = workflow([job("hold", retry={"max_attempts": 1})], name=name)
    outcome = {}

    def run():
        with broker.client() as mine:
            outcome["status"] = mine.run(spec, journal=journal)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        wid = None
        for _ in range(200):
            found = c.list(name=name)["workflows"]
            if found and found[0]["state"] == "RUNNING":
                wid = found[0]["id"]
                break
            threading.Event().wait(0.05)
        assert wid is not None, "the run never started"
        wait_event(c, wid, "job.dispatched")
        assert c.stop(name, "hold on") == 1
    finally:
        t.join(20)
    assert not t.is_alive(), "run() kept following a STOPPED workflow"
    st = outcome["status"]
    assert (st["id"], st["state"], st["reason"]) == (wid, "STOPPED", "stopped: hold on")
    assert [s for s, _ in journal_steps(journal)] == ["submitting", "submitted", "exec"]

    with pytest.raises(Stopped) as e:
        c.resume(journal)
    assert_stopped_error(e, name, "hold on")
    assert [s for s, _ in journal_steps(journal)] == ["submitting", "submitted", "exec"]

    c.go(name)
    [final] = c.resume(journal)
    assert (final["id"], final["state"]) == (wid, "SUCCEEDED")
    assert final["blocks"][0]["jobs"][0]["output"] == {"attempt": 2}
    assert attempts == [1, 2]
    assert journal_steps(journal)[-2:] == [("exec", None), ("finished", "SUCCEEDED")]
    assert c.resume(journal) == []


def test_watch_stops_following_a_stopped_workflow(c):
    name = unique()
    wid = running(c, name)
    c.stop(name, "r")
    seen = [e["kind"] for e in c.watch(wid, wait=20.0)]
    assert seen[-1] == "workflow.stopped"
    assert c.wait(wid)["state"] == "STOPPED"
