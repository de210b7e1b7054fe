"""BATON/1 commands and replies against the real broker (spec sections 4.3, 4.4, 5-8)."""

import re
import time
import uuid

import pytest

from baton import BadRequest, Conflict, NotFound
from helpers import (
    assert_no_nulls,
    enc,
    events_of,
    job,
    kinds,
    wait_state,
    workflow,
)

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
NOBODY = "nobody.declares.this"  # a job type no worker serves: its jobs stay PENDING


@pytest.fixture(scope="module")
def shared(module_broker_factory):
    return module_broker_factory()


@pytest.fixture(scope="module")
def with_worker(shared, baton_bin):
    """One Swift worker on the shared broker for the whole module; its file jobs write
    under shared.dir/files."""
    (shared.dir / "files").mkdir()
    shared.procs.spawn([baton_bin, "worker", "--broker", shared.worker_endpoint, "--types",
                        "echo,sleep,fail,file.write,append", "--file-root", str(shared.dir / "files"),
                        "--capacity", "16", "--name", "swift-shared"],
                       shared.dir / "worker.log")
    return shared


@pytest.fixture
def c(shared):
    client = shared.client()
    yield client
    client.close()


@pytest.fixture
def cw(with_worker):
    client = with_worker.client()
    yield client
    client.close()


def unique(prefix="wf"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def pending_wf(name=None, jobs=1):
    return workflow([job(NOBODY, {"n": i}) for i in range(jobs)], name=name or unique())


# ------------------------------------------------------------------ SUBMIT -> ID


def test_submit_stores_and_replies_id(c, raw_clients, shared):
    raw = raw_clients(shared)
    name, tag, body = raw.request("SUBMIT", {"workflow": pending_wf(), "idempotency_key": unique("k")}, tag=b"c1-0001")
    assert (name, tag) == ("ID", b"c1-0001")
    assert set(body) == {"id", "state", "duplicate"}
    assert ULID.match(body["id"]), body
    assert body["state"] == "SUBMITTED" and body["duplicate"] is False


def test_ids_are_time_ordered(c):
    a = c.submit(pending_wf()).id
    time.sleep(0.005)
    b = c.submit(pending_wf()).id
    assert a < b


def test_submit_without_key_creates_a_new_workflow_each_time(c, raw_clients, shared):
    raw = raw_clients(shared)
    spec = pending_wf()
    ids = {raw.request("SUBMIT", {"workflow": spec})[2]["id"] for _ in range(2)}
    assert len(ids) == 2


def test_nothing_runs_on_submit(cw):
    s = cw.submit(workflow([job("echo", {"x": 1})]))
    time.sleep(0.4)
    st = cw.status(s.id)
    assert st["state"] == "SUBMITTED"
    assert "started_at" not in st and "finished_at" not in st
    assert st["blocks"][0]["jobs"][0]["state"] == "PENDING"
    assert st["blocks"][0]["jobs"][0]["attempt"] == 0
    assert kinds(events_of(cw, s.id)) == ["workflow.submitted"]


def test_same_key_same_spec_is_a_duplicate(c):
    key, spec = unique("k"), pending_wf()
    first = c.submit(spec, key)
    again = c.submit(spec, key)
    assert (again.id, again.state, again.duplicate) == (first.id, "SUBMITTED", True)
    assert len(events_of(c, first.id)) == 1  # nothing stored the second time


def test_keys_are_global_across_connections(shared):
    key, spec = unique("k"), pending_wf()
    a, b = shared.client(), shared.client()
    try:
        assert a.submit(spec, key).id == b.submit(spec, key).id
    finally:
        a.close()
        b.close()


def test_same_spec_means_parsed_with_defaults(c):
    key = unique("k")
    name = unique()
    plain = {"name": name, "blocks": [{"jobs": [{"type": NOBODY, "args": {"n": 3}}]}]}
    first = c.submit(plain, key)
    equivalents = [
        # defaults written out; integer fields as 1.0; key order; nulls
        {"blocks": [{"concurrency": 1.0, "jobs": [{"args": {"n": 3}, "type": NOBODY, "timeout_ms": 0,
                                                   "retry": {"max_attempts": 3.0, "backoff_ms": 1000}}]}],
         "name": name},
        {"name": name, "description": None, "blocks": [{"jobs": [{"type": NOBODY, "args": {"n": 3}, "retry": None, "name": None}]}]},
    ]
    for spec in equivalents:
        again = c.submit(spec, key)
        assert (again.id, again.duplicate) == (first.id, True), spec


def test_unknown_spec_keys_are_bad_request_naming_the_path(c):
    # Spec objects are strict (spec §5): a misspelled key is never dropped in silence.
    with pytest.raises(BadRequest) as e:
        c.submit({"name": unique(), "blocks": [{"jobs": [{"type": NOBODY, "timeout": 5000}]}]}, unique("k"))
    assert e.value.code == "bad_request"
    assert e.value.message.startswith('workflow.blocks[0].jobs[0].timeout: unknown key (did you mean "timeout_ms"?)')


def test_inside_args_3_and_3_0_differ(c):
    key, name = unique("k"), unique()
    c.submit({"name": name, "blocks": [{"jobs": [{"type": NOBODY, "args": {"n": 3}}]}]}, key)
    with pytest.raises(Conflict) as e:
        c.submit({"name": name, "blocks": [{"jobs": [{"type": NOBODY, "args": {"n": 3.0}}]}]}, key)
    assert e.value.code == "conflict"


def test_same_key_other_spec_is_conflict_and_changes_nothing(c, raw_clients, shared):
    key = unique("k")
    first = c.submit(pending_wf(), key)
    raw = raw_clients(shared)
    name, tag, body = raw.request("SUBMIT", {"workflow": pending_wf(), "idempotency_key": key}, tag=b"c1-0007")
    assert (name, tag, body["code"]) == ("ERROR", b"c1-0007", "conflict")
    assert c.status(first.id)["state"] == "SUBMITTED"


def test_duplicate_reports_current_state_even_when_final(c):
    key, spec = unique("k"), pending_wf()
    s = c.submit(spec, key)
    c.exec(s.id)
    assert c.submit(spec, key).state == "RUNNING"
    c.cancel(s.id)
    again = c.submit(spec, key)
    assert (again.id, again.state, again.duplicate) == (s.id, "CANCELLED", True)


def test_key_limits(c):
    c.submit(pending_wf(), "k" * 256)
    for bad in ("", "k" * 257):
        with pytest.raises(BadRequest) as e:
            c.submit(pending_wf(), bad)
        assert e.value.message.startswith("idempotency_key")


def test_workflow_is_checked_before_key(c, raw_clients, shared):
    raw = raw_clients(shared)
    _, _, body = raw.request("SUBMIT", {"workflow": {"name": "", "blocks": []}, "idempotency_key": ""})
    assert body["code"] == "bad_request" and body["message"].startswith("workflow"), body


BIG = 4097


@pytest.mark.parametrize("spec, path", [
    ({"blocks": [{"jobs": [{"type": "echo"}]}]}, "workflow.name"),
    ({"name": "", "blocks": [{"jobs": [{"type": "echo"}]}]}, "workflow.name"),
    ({"name": "n" * 201, "blocks": [{"jobs": [{"type": "echo"}]}]}, "workflow.name"),
    ({"name": 5, "blocks": [{"jobs": [{"type": "echo"}]}]}, "workflow.name"),
    ({"name": "x", "description": "d" * BIG, "blocks": [{"jobs": [{"type": "echo"}]}]}, "workflow.description"),
    ({"name": "x"}, "workflow.blocks"),
    ({"name": "x", "blocks": []}, "workflow.blocks"),
    ({"name": "x", "blocks": {}}, "workflow.blocks"),
    ({"name": "x", "blocks": [{"jobs": []}]}, "workflow.blocks[0].jobs"),
    ({"name": "x", "blocks": [{}]}, "workflow.blocks[0].jobs"),
    ({"name": "x", "blocks": [{"description": "d" * BIG, "jobs": [{"type": "echo"}]}]}, "workflow.blocks[0].description"),
    ({"name": "x", "blocks": [{"concurrency": 0, "jobs": [{"type": "echo"}]}]}, "workflow.blocks[0].concurrency"),
    ({"name": "x", "blocks": [{"concurrency": 100001, "jobs": [{"type": "echo"}]}]}, "workflow.blocks[0].concurrency"),
    ({"name": "x", "blocks": [{"concurrency": 1.5, "jobs": [{"type": "echo"}]}]}, "workflow.blocks[0].concurrency"),
    ({"name": "x", "blocks": [{"concurrency": "2", "jobs": [{"type": "echo"}]}]}, "workflow.blocks[0].concurrency"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo"}]}, {"jobs": [{"args": {}}]}]}, "workflow.blocks[1].jobs[0].type"),
    ({"name": "x", "blocks": [{"jobs": [{"type": ""}]}]}, "workflow.blocks[0].jobs[0].type"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "a b"}]}]}, "workflow.blocks[0].jobs[0].type"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "é"}]}]}, "workflow.blocks[0].jobs[0].type"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "t" * 101}]}]}, "workflow.blocks[0].jobs[0].type"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "name": "n" * BIG}]}]}, "workflow.blocks[0].jobs[0].name"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "args": []}]}]}, "workflow.blocks[0].jobs[0].args"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "args": "a"}]}]}, "workflow.blocks[0].jobs[0].args"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "timeout_ms": -1}]}]}, "workflow.blocks[0].jobs[0].timeout_ms"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "timeout_ms": 604800001}]}]}, "workflow.blocks[0].jobs[0].timeout_ms"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "retry": []}]}]}, "workflow.blocks[0].jobs[0].retry"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "retry": {"max_attempts": 0}}]}]}, "workflow.blocks[0].jobs[0].retry.max_attempts"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "retry": {"max_attempts": 101}}]}]}, "workflow.blocks[0].jobs[0].retry.max_attempts"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "retry": {"backoff_ms": -1}}]}]}, "workflow.blocks[0].jobs[0].retry.backoff_ms"),
    ({"name": "x", "blocks": [{"jobs": [{"type": "echo", "retry": {"backoff_ms": 86400001}}]}]}, "workflow.blocks[0].jobs[0].retry.backoff_ms"),
    ([], "workflow"),
    ("hello", "workflow"),
])
def test_submit_validation(c, raw_clients, shared, spec, path):
    raw = raw_clients(shared)
    name, tag, body = raw.request("SUBMIT", {"workflow": spec, "idempotency_key": unique("k")}, tag=b"v")
    assert (name, tag, body["code"]) == ("ERROR", b"v", "bad_request"), body
    assert body["message"].startswith(path + ":"), body  # "<path>: <problem>" (4.2 check 10)


def test_submit_requires_workflow(raw_clients, shared):
    _, _, body = raw_clients(shared).request("SUBMIT", {"idempotency_key": "k"})
    assert body["code"] == "bad_request" and body["message"].startswith("workflow:")


def test_submit_limits_accepted_at_the_edge(c):
    spec = {"name": "n" * 200, "description": "d" * 4096, "blocks": [
        {"concurrency": 100000, "description": "d" * 4096, "jobs": [
            {"type": "t" * 100, "name": "n" * 4096, "timeout_ms": 604800000,
             "retry": {"max_attempts": 100, "backoff_ms": 86400000}},
            {"type": "Az09._-", "retry": {"max_attempts": 1}},
            {"type": NOBODY, "args": None, "retry": {"backoff_ms": 0}},
        ]}]}
    s = c.submit(spec)
    st = c.status(s.id)
    assert [j["type"] for j in st["blocks"][0]["jobs"]] == ["t" * 100, "Az09._-", NOBODY]


def test_failed_submit_stores_nothing(c):
    name = unique()
    with pytest.raises(BadRequest):
        c.submit({"name": name, "blocks": [{"jobs": [{"type": "echo"}]}, {"jobs": []}]})
    assert c.list(name=name)["workflows"] == []


# ------------------------------------------------------------------ EXEC


def test_exec_starts_a_submitted_workflow(c):
    s = c.submit(workflow([job(NOBODY, {"a": 1}, name="first"), job(NOBODY)], name="hello"))
    st = c.exec(s.id)
    assert st["id"] == s.id and st["state"] == "RUNNING" and st["name"] == "hello"
    assert TIMESTAMP.match(st["started_at"])
    assert st["blocks"][0]["state"] == "RUNNING"
    assert [j["state"] for j in st["blocks"][0]["jobs"]] == ["PENDING", "PENDING"]
    ev = events_of(c, s.id)
    assert kinds(ev) == ["workflow.submitted", "workflow.running", "block.started"]
    assert ev[2]["block"] == 0


def test_block_states_are_derived(c):
    s = c.submit(workflow([job(NOBODY)], [job(NOBODY)]))
    assert [b["state"] for b in c.status(s.id)["blocks"]] == ["PENDING", "PENDING"]
    assert [b["state"] for b in c.exec(s.id)["blocks"]] == ["RUNNING", "PENDING"]
    assert [b["state"] for b in c.cancel(s.id)["blocks"]] == ["CANCELLED", "CANCELLED"]


def test_exec_again_changes_nothing(c):
    s = c.submit(pending_wf())
    first = c.exec(s.id)
    again = c.exec(s.id)
    assert again["state"] == "RUNNING" and again["started_at"] == first["started_at"]
    assert len(events_of(c, s.id)) == 3


def test_exec_final_workflow_returns_status(c):
    s = c.submit(pending_wf())
    c.cancel(s.id)
    st = c.exec(s.id)
    assert st["state"] == "CANCELLED" and "started_at" not in st


@pytest.mark.parametrize("command", ["EXEC", "STATUS", "WATCH", "CANCEL"])
def test_unknown_id_is_not_found(c, raw_clients, shared, command):
    name, tag, body = raw_clients(shared).request(command, {"id": "01JDQ8ZK4M3V7W2XN9RTBCEFGH"}, tag=b"nf")
    assert (name, tag, body["code"]) == ("ERROR", b"nf", "not_found")
    name, tag, body = raw_clients(shared).request(command, {"id": "x" * 128}, tag=b"nf")
    assert body["code"] == "not_found"


@pytest.mark.parametrize("command, body, field", [
    ("EXEC", {}, "id"),
    ("EXEC", {"id": ""}, "id"),
    ("EXEC", {"id": 5}, "id"),
    ("EXEC", {"id": "x" * 129}, "id"),
    ("STATUS", {}, "id"),
    ("STATUS", {"id": None}, "id"),
    ("CANCEL", {"id": ["a"]}, "id"),
    ("WATCH", {}, "id"),
    ("WATCH", {"id": "X", "after": -1}, "after"),
    ("WATCH", {"id": "X", "after": 1.5}, "after"),
    ("WATCH", {"id": "X", "after": "1"}, "after"),
    ("WATCH", {"id": "X", "wait_ms": -1}, "wait_ms"),
    ("WATCH", {"id": "X", "wait_ms": 60001}, "wait_ms"),
    ("LIST", {"limit": 0}, "limit"),
    ("LIST", {"limit": 1001}, "limit"),
    ("LIST", {"limit": "5"}, "limit"),
    ("LIST", {"state": "BOGUS"}, "state"),
    ("LIST", {"state": "running"}, "state"),
    ("LIST", {"name": "n" * 201}, "name"),
    ("LIST", {"before": "b" * 129}, "before"),
])
def test_field_validation(raw_clients, shared, command, body, field):
    name, tag, reply = raw_clients(shared).request(command, body, tag=b"f")
    assert (name, tag, reply["code"]) == ("ERROR", b"f", "bad_request"), reply
    assert reply["message"].startswith(field + ":"), reply


def test_integer_fields_accept_whole_floats(c, raw_clients, shared):
    s = c.submit(pending_wf())
    name, _, body = raw_clients(shared).request("WATCH", {"id": s.id, "after": 0.0, "wait_ms": 0.0})
    assert name == "EVENTS" and len(body["events"]) == 1
    name, _, body = raw_clients(shared).request("LIST", {"limit": 2.0})
    assert name == "LIST"


# ------------------------------------------------------------------ STATUS


def test_status_of_a_succeeded_workflow(cw):
    spec = {"name": "status-shape", "blocks": [
        {"concurrency": 2, "jobs": [{"type": "echo", "name": "greet", "args": {"message": "hello"}},
                                    {"type": "echo", "args": {}}]},
        {"jobs": [{"type": "sleep", "args": {"ms": 10}}]}]}
    s = cw.submit(spec)
    cw.exec(s.id)
    st = wait_state(cw, s.id, "SUCCEEDED")
    assert_no_nulls(st)
    assert set(st) == {"id", "name", "state", "blocks", "submitted_at", "started_at", "finished_at"}
    for k in ("submitted_at", "started_at", "finished_at"):
        assert TIMESTAMP.match(st[k])
    assert st["submitted_at"] <= st["started_at"] <= st["finished_at"]
    assert [b["state"] for b in st["blocks"]] == ["SUCCEEDED", "SUCCEEDED"]
    j0, j1 = st["blocks"][0]["jobs"]
    assert j0["job_id"] == f"{s.id}.0.0" and j1["job_id"] == f"{s.id}.0.1"
    assert st["blocks"][1]["jobs"][0]["job_id"] == f"{s.id}.1.0"
    assert j0["name"] == "greet" and "name" not in j1
    assert j0["type"] == "echo" and j0["state"] == "SUCCEEDED" and j0["attempt"] == 1
    assert j0["output"] == {"message": "hello"}
    assert "error" not in j0
    assert TIMESTAMP.match(j0["started_at"]) and TIMESTAMP.match(j0["finished_at"])


def test_failed_workflow_reason_events_and_later_blocks(cw):
    spec = workflow([job("fail", {"message": "this job always fails"}, retry={"max_attempts": 2, "backoff_ms": 50})],
                    [job("echo", name="never-runs")], name="failing")
    s = cw.submit(spec)
    cw.exec(s.id)
    st = wait_state(cw, s.id, "FAILED")
    jid = f"{s.id}.0.0"
    assert st["reason"] == f"job {jid} (fail) failed after 2 attempts: this job always fails"
    assert [b["state"] for b in st["blocks"]] == ["FAILED", "CANCELLED"]
    j = st["blocks"][0]["jobs"][0]
    assert (j["state"], j["attempt"], j["error"]) == ("FAILED", 2, "this job always fails")
    later = st["blocks"][1]["jobs"][0]
    assert (later["state"], later["attempt"]) == ("CANCELLED", 0)
    ev = events_of(cw, s.id)
    assert kinds(ev) == ["workflow.submitted", "workflow.running", "block.started", "job.dispatched",
                         "job.retrying", "job.dispatched", "job.failed", "workflow.failed"]
    retry = ev[4]
    assert (retry["attempt"], retry["error"], retry["job_id"], retry["block"], retry["job"]) == \
        (1, "this job always fails", jid, 0, 0)
    assert TIMESTAMP.match(retry["retry_at"])
    assert ev[5]["attempt"] == 2 and ev[6]["attempt"] == 2
    assert ev[7]["reason"] == st["reason"]


def test_not_retryable_fails_after_one_attempt(cw):
    s = cw.submit(workflow([job("fail", {"message": "no", "retryable": False})]))
    cw.exec(s.id)
    st = wait_state(cw, s.id, "FAILED")
    assert st["reason"] == f"job {s.id}.0.0 (fail) failed after 1 attempt: no"


def test_blocks_run_in_order_with_concurrency(cw, tmp_path):
    log = f"order-{tmp_path.name}.jsonl"  # relative to the worker's --file-root
    spec = workflow([job("append", {"path": log, "line": "a"})],
                    {"concurrency": 2, "jobs": [job("append", {"path": log, "line": "b", "ms": 50}) for _ in range(4)]},
                    [job("append", {"path": log, "line": "c"})])
    s = cw.submit(spec)
    cw.exec(s.id)
    wait_state(cw, s.id, "SUCCEEDED")
    ev = events_of(cw, s.id)
    started = [e["block"] for e in ev if e["kind"] == "block.started"]
    succeeded = [e["block"] for e in ev if e["kind"] == "block.succeeded"]
    assert started == [0, 1, 2] and succeeded == [0, 1, 2]
    # never more than 2 jobs of block 1 in flight
    in_flight = peak = 0
    for e in ev:
        if e["kind"] == "job.dispatched" and e["block"] == 1:
            in_flight += 1
            peak = max(peak, in_flight)
        elif e["kind"] == "job.succeeded" and e["block"] == 1:
            in_flight -= 1
    assert peak == 2


def test_file_jobs_stay_inside_the_workers_file_root(cw, with_worker):
    """Issue 12 hole 2: a path that leaves --file-root fails its job for good, writing nothing."""
    for path, why in [("../escaped.txt", "contains a .. component"),
                      (str(with_worker.dir / "escaped.txt"), "absolute; paths are relative to the worker's --file-root")]:
        s = cw.submit(workflow([job("file.write", {"path": path, "content": "x"})]))
        cw.exec(s.id)
        st = wait_state(cw, s.id, "FAILED")
        j = st["blocks"][0]["jobs"][0]
        assert j["attempt"] == 1 and j["error"] == f'args.path "{path}": {why}'
    assert not (with_worker.dir / "escaped.txt").exists()


# ------------------------------------------------------------------ WATCH


def test_watch_reads_a_gapless_log_with_final_event_last(cw):
    s = cw.submit(workflow([job("echo", {"message": "hello, world"}, name="greet-world"),
                            job("echo", {"message": "hello, baton"}, name="greet-baton")], name="hello"))
    cw.exec(s.id)
    wait_state(cw, s.id, "SUCCEEDED")
    ev = events_of(cw, s.id)
    assert [e["seq"] for e in ev] == list(range(1, len(ev) + 1))
    assert ev[0] == {"seq": 1, "at": ev[0]["at"], "kind": "workflow.submitted", "name": "hello"}
    assert ev[-1]["kind"] == "workflow.succeeded"
    for e in ev:
        assert TIMESTAMP.match(e["at"])
    d = [e for e in ev if e["kind"] == "job.dispatched"]
    assert {e["job_id"] for e in d} == {f"{s.id}.0.0", f"{s.id}.0.1"}
    assert all(e["worker"] == "swift-shared" and e["attempt"] == 1 and e["block"] == 0 for e in d)
    ok = [e for e in ev if e["kind"] == "job.succeeded"]
    assert sorted(e["job"] for e in ok) == [0, 1]
    assert "output" not in ok[0]


def test_watch_after_and_reply_shape(c, raw_clients, shared):
    s = c.submit(pending_wf())
    c.exec(s.id)
    name, tag, body = raw_clients(shared).request("WATCH", {"id": s.id, "after": 1}, tag=b"w")
    assert (name, tag) == ("EVENTS", b"w")
    assert set(body) == {"id", "events", "state"}
    assert body["id"] == s.id and body["state"] == "RUNNING"
    assert [e["seq"] for e in body["events"]] == [2, 3]
    _, _, body = raw_clients(shared).request("WATCH", {"id": s.id, "after": 99})
    assert body["events"] == []


def test_watch_long_poll_times_out_empty(c, raw_clients, shared):
    s = c.submit(pending_wf())
    t = time.monotonic()
    name, _, body = raw_clients(shared).request("WATCH", {"id": s.id, "after": 1, "wait_ms": 300})
    took = time.monotonic() - t
    assert name == "EVENTS" and body["events"] == [] and body["state"] == "SUBMITTED"
    assert 0.25 <= took < 2.0, took


def test_watch_long_poll_is_answered_by_the_next_event_and_pipelines(c, raw_clients, shared):
    s = c.submit(pending_wf())
    raw = raw_clients(shared)
    raw.send([b"", b"BATON/1", b"WATCH", b"w", enc({"id": s.id, "after": 1, "wait_ms": 10000})])
    raw.send([b"", b"BATON/1", b"PING", b"p", b"{}"])
    first = raw.recv(2)
    assert first[2:4] == [b"PONG", b"p"]  # the held WATCH is answered later
    assert raw.recv(0.3) is None
    t = time.monotonic()
    c.exec(s.id)
    reply = raw.recv(3)
    assert reply is not None and reply[2:4] == [b"EVENTS", b"w"]
    assert time.monotonic() - t < 2
    import json
    body = json.loads(reply[4])
    assert body["events"][0]["seq"] == 2 and body["events"][0]["kind"] == "workflow.running"


def test_watch_on_final_workflow_never_waits(c, raw_clients, shared):
    s = c.submit(pending_wf())
    c.cancel(s.id)
    t = time.monotonic()
    _, _, body = raw_clients(shared).request("WATCH", {"id": s.id, "after": 2, "wait_ms": 10000})
    assert body["events"] == [] and body["state"] == "CANCELLED"
    assert time.monotonic() - t < 1.0


def test_watch_pages_hold_at_most_500_events(cw):
    n = 260  # 3 + 2*n + 2 events
    s = cw.submit({"name": "many", "blocks": [{"concurrency": n, "jobs": [{"type": "echo"} for _ in range(n)]}]})
    cw.exec(s.id)
    wait_state(cw, s.id, "SUCCEEDED", timeout=20)
    first = cw.watch_page(s.id, 0)
    assert len(first["events"]) == 500
    second = cw.watch_page(s.id, 500)
    assert [e["seq"] for e in second["events"]] == list(range(501, 2 * n + 6))
    assert cw.watch_page(s.id, 2 * n + 5)["events"] == []
    assert len(events_of(cw, s.id)) == 2 * n + 5


# ------------------------------------------------------------------ CANCEL


def test_cancel_submitted(c):
    s = c.submit(pending_wf(jobs=2))
    st = c.cancel(s.id)
    assert st["state"] == "CANCELLED" and st["reason"] == "cancelled by client"
    assert TIMESTAMP.match(st["finished_at"]) and "started_at" not in st
    assert [j["state"] for j in st["blocks"][0]["jobs"]] == ["CANCELLED", "CANCELLED"]
    assert st["blocks"][0]["state"] == "CANCELLED"
    ev = events_of(c, s.id)
    assert kinds(ev) == ["workflow.submitted", "workflow.cancelled"]
    assert ev[-1]["reason"] == "cancelled by client"


def test_cancel_running_pending_jobs_have_no_event(c):
    s = c.submit(pending_wf(jobs=2))
    c.exec(s.id)
    st = c.cancel(s.id)
    assert st["state"] == "CANCELLED"
    assert kinds(events_of(c, s.id)) == ["workflow.submitted", "workflow.running", "block.started", "workflow.cancelled"]


def test_cancel_final_changes_nothing(c):
    s = c.submit(pending_wf())
    first = c.cancel(s.id)
    again = c.cancel(s.id)
    assert again == first
    assert len(events_of(c, s.id)) == 2


# ------------------------------------------------------------------ LIST


def test_list_newest_first_filters_and_pages(c):
    name = unique("list")
    ids = [c.submit(pending_wf(name)).id for _ in range(5)]
    c.cancel(ids[1])
    page = c.list(name=name)
    assert [w["id"] for w in page["workflows"]] == ids[::-1]
    assert "next" not in page
    summary = page["workflows"][-1]
    assert set(summary) == {"id", "name", "state", "submitted_at"}
    assert summary["name"] == name and summary["state"] == "SUBMITTED"
    cancelled = c.list(name=name, state="CANCELLED")["workflows"]
    assert [(w["id"], w["reason"]) for w in cancelled] == [(ids[1], "cancelled by client")]
    assert "finished_at" in cancelled[0]
    p1 = c.list(name=name, limit=2)
    assert [w["id"] for w in p1["workflows"]] == [ids[4], ids[3]] and p1["next"] == ids[3]
    p2 = c.list(name=name, limit=2, before=p1["next"])
    assert [w["id"] for w in p2["workflows"]] == [ids[2], ids[1]] and p2["next"] == ids[1]
    p3 = c.list(name=name, limit=2, before=p2["next"])
    assert [w["id"] for w in p3["workflows"]] == [ids[0]] and "next" not in p3
    assert c.list(name=name, before="01JDQ8ZK4M3V7W2XN9RTBCEFGH") == {"workflows": []}
    assert [w["id"] for w in c.list_all(name=name, page_size=2)] == ids[::-1]


def test_list_default_limit_is_50(c):
    name = unique("fifty")
    for _ in range(51):
        c.submit(pending_wf(name))
    page = c.list(name=name)
    assert len(page["workflows"]) == 50 and "next" in page


# ------------------------------------------------------------------ PING via the SDK (STOP, RESUME: test_stop.py)


def test_sdk_ping(c):
    assert TIMESTAMP.match(c.ping()["time"])


def test_sdk_errors_carry_code_and_message(c):
    with pytest.raises(NotFound) as e:
        c.status("01JDQ8ZK4M3V7W2XN9RTBCEFGH")
    assert e.value.code == "not_found" and e.value.message
    with pytest.raises(BadRequest) as e:
        c.watch_page("x", after=-1)
    assert e.value.code == "bad_request" and e.value.message.startswith("after:")


# ------------------------------------------------------------------ TTL -> EXPIRED


def test_submitted_workflow_expires_after_ttl(broker_factory):
    b = broker_factory(ttl_seconds=1)
    c = b.client()
    try:
        s = c.submit(workflow([job("echo")], [job("echo")]))
        st = wait_state(c, s.id, "EXPIRED", timeout=5)
        assert st["reason"] == "not executed within 1 s of SUBMIT"
        assert "started_at" not in st and TIMESTAMP.match(st["finished_at"])
        assert [b_["state"] for b_ in st["blocks"]] == ["CANCELLED", "CANCELLED"]
        assert all(j["state"] == "CANCELLED" and j["attempt"] == 0 for b_ in st["blocks"] for j in b_["jobs"])
        ev = events_of(c, s.id)
        assert kinds(ev) == ["workflow.submitted", "workflow.expired"]
        assert ev[-1]["reason"] == st["reason"]
        assert c.exec(s.id)["state"] == "EXPIRED"
        assert c.cancel(s.id)["state"] == "EXPIRED"
        # a running workflow never expires
        r = c.submit(workflow([job(NOBODY)]))
        c.exec(r.id)
        time.sleep(1.5)
        assert c.status(r.id)["state"] == "RUNNING"
    finally:
        c.close()


# ------------------------------------------------------------------ durability


def test_id_and_events_survive_broker_sigkill(broker):
    c = broker.client()
    try:
        s = c.submit(pending_wf())
        c.exec(s.id)
        before = events_of(c, s.id)
        broker.restart(kill=True)
        assert c.status(s.id)["state"] == "RUNNING"
        assert events_of(c, s.id) == before
        key, spec = unique("k"), pending_wf()
        first = c.submit(spec, key)
        broker.restart(kill=True)
        again = c.submit(spec, key)
        assert (again.id, again.duplicate) == (first.id, True)
    finally:
        c.close()


def test_graceful_shutdown_exits_0(broker):
    assert broker.terminate() == 0


def test_at_most_10000_blocks(c):
    one = {"jobs": [{"type": NOBODY}]}
    with pytest.raises(BadRequest) as e:
        c.submit({"name": unique(), "blocks": [one] * 10001})
    assert e.value.message.startswith("workflow.blocks")
    s = c.submit({"name": unique(), "blocks": [one] * 10000})
    assert len(c.status(s.id)["blocks"]) == 10000


def test_at_most_100000_jobs(broker_factory):
    b = broker_factory(max_message_bytes=4 * 1024 * 1024)
    with b.client(timeout=10.0) as c:
        job_ = {"type": "e"}
        with pytest.raises(BadRequest) as e:
            c.submit({"name": unique(), "blocks": [{"jobs": [job_] * 50000}, {"jobs": [job_] * 50001}]})
        assert e.value.message.startswith("workflow.blocks"), e.value.message
