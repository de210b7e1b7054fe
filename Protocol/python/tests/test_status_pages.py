"""STATUS paging (spec 4.3.3): the broker's pages, and the SDK putting them back together
so that callers still get whole statuses."""

import pytest

from baton import Client, ProtocolError
from helpers import enc, job, workflow

PAD = 200_000  # two ~200 KB outputs never share a 256 KiB page


def big_workflow(n: int):
    return workflow({"concurrency": 2, "jobs": [job("echo", {"pad": str(k % 10) * PAD}) for k in range(n)]}, name="paged")


def job_ids(status):
    return [[j["job_id"] for j in b["jobs"]] for b in status["blocks"]]


def test_sdk_status_exec_and_cancel_return_whole_statuses(broker, swift_worker):
    swift_worker(broker)
    with broker.client(timeout=20.0) as c:
        final = c.run(big_workflow(4))
        assert final["state"] == "SUCCEEDED"
        ids = [[f"{final['id']}.0.{k}" for k in range(4)]]
        for whole in (final, c.status(final["id"]), c.exec(final["id"]), c.cancel(final["id"])):
            assert job_ids(whole) == ids
            assert [len(j["output"]["pad"]) for j in whole["blocks"][0]["jobs"]] == [PAD] * 4
            assert "jobs_next" not in whole


def test_pages_from_the_broker(broker, swift_worker, raw_clients):
    swift_worker(broker)
    with broker.client(timeout=20.0) as c:
        wid = c.run(big_workflow(3))["id"]
        page = c.status_page(wid)
    assert job_ids(page) == [[f"{wid}.0.0"]] and page["jobs_next"] == 1
    raw = raw_clients(broker)
    # A v1 request (only "id") gets the first page, with every workflow field.
    name, _, first = raw.request("STATUS", {"id": wid}, timeout=10)
    assert name == "STATUS" and first == page
    assert {"id", "name", "state", "submitted_at", "started_at", "finished_at"} <= set(first)
    name, _, last = raw.request("STATUS", {"id": wid, "jobs_from": 2}, timeout=10)
    assert job_ids(last) == [[f"{wid}.0.2"]] and "jobs_next" not in last
    name, _, past = raw.request("STATUS", {"id": wid, "jobs_from": 99}, timeout=10)
    assert name == "STATUS" and job_ids(past) == [[]] and past["blocks"][0]["state"] == "SUCCEEDED"
    name, _, bad = raw.request("STATUS", {"id": wid, "jobs_from": -1})
    assert (name, bad["code"]) == ("ERROR", "bad_request")


def test_small_workflows_are_one_page(broker, swift_worker):
    swift_worker(broker)
    with broker.client() as c:
        final = c.run(workflow([job("echo", {"n": k}) for k in range(50)]))
        page = c.status_page(final["id"])
        assert "jobs_next" not in page and len(page["blocks"][0]["jobs"]) == 50


def test_a_cursor_that_does_not_move_is_a_protocol_error(fakes_status):
    fake = fakes_status(lambda body: {"jobs_next": body.get("jobs_from", 0)})
    with Client(fake.endpoint, timeout=1.0) as c:
        with pytest.raises(ProtocolError):
            c.status("01J")


@pytest.fixture
def fakes_status():
    """A fake broker answering STATUS with a one-block page, plus what `extra` adds."""
    import json

    from helpers import FakeBroker

    made = []

    def make(extra):
        def respond(req):
            body = json.loads(req[4])
            page = {"id": "01J", "name": "x", "state": "SUCCEEDED", "submitted_at": "2026-11-28T12:00:00.000Z",
                    "blocks": [{"state": "SUCCEEDED", "jobs": []}]}
            page.update(extra(body))
            return [b"", b"BATON/1", b"STATUS", req[3], enc(page)]

        f = FakeBroker(respond)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()
