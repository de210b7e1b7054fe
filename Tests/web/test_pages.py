"""The pages over HTTP: what they show, what they refuse, and a broker that is down."""

from __future__ import annotations

import re
import time

from conftest import echo_spec, sleep_spec

HOSTILE = "<script>alert('x')</script> & \"quoted\""


def test_pages_show_the_broker(cluster):
    done = cluster.run(echo_spec("pages-echo"))
    status, body, headers = cluster.get("/")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "Emergency stop: <strong>none</strong>" in body
    assert "<code>echo</code>" in body

    status, body, _ = cluster.get("/workflows?state=SUCCEEDED&name=pages-echo")
    assert status == 200 and done["id"] in body

    status, body, _ = cluster.get(f"/workflows/{done['id']}")
    assert status == 200
    assert body.count('class="badge state-succeeded">SUCCEEDED') >= 3  # workflow, block, jobs
    assert "hello 0" in body and "web-test-worker" in body

    status, body, _ = cluster.get("/workers")
    assert status == 200 and "web-test-worker" in body


def test_user_text_is_escaped_end_to_end(cluster):
    spec = {"name": HOSTILE, "blocks": [{"jobs": [{"type": "echo", "name": HOSTILE, "args": {"message": HOSTILE}}]}]}
    done = cluster.run(spec)
    for path in [f"/workflows/{done['id']}", "/workflows"]:
        _, body, _ = cluster.get(path)
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in body


def test_bad_parameters_are_400_naming_the_field(cluster):
    for path, field in [("/workflows?state=DONE", "state"), ("/workflows?limit=5000", "limit"),
                        ("/workflows/x?from=-1", "from"), ("/workflows/x/events?after=z", "after"), ("/?notice=zz", "notice")]:
        status, body, _ = cluster.get(path)
        assert status == 400, path
        assert re.search(rf'id="error-message">{field}: ', body), (path, body[-500:])
    status, body, _ = cluster.get("/workflows/01NOSUCHID")
    assert status == 404 and "not_found" in body


def test_forms_need_the_token_and_this_origin(cluster):
    wid = cluster.submit(sleep_spec("csrf", 100, 1))
    status, body, _ = cluster.post(f"/workflows/{wid}/cancel", {})
    assert status == 403 and "token" in body
    token = cluster.token()
    status, _, _ = cluster.post(f"/workflows/{wid}/cancel", {"token": token}, origin="http://evil.example")
    assert status == 403
    assert cluster.status(wid)["state"] == "SUBMITTED"  # nothing changed
    status, _, headers = cluster.post(f"/workflows/{wid}/cancel", {"token": token}, origin=cluster.url)
    assert status == 303 and headers["Location"] == f"/workflows/{wid}?notice=cancelled"
    assert cluster.status(wid)["state"] == "CANCELLED"


def test_stop_and_go_with_confirmation(cluster):
    token = cluster.token()
    status, body, _ = cluster.post("/stop", {"token": token, "name": "*", "reason": "drill"})
    assert status == 400 and "confirm:" in body
    status, _, headers = cluster.post("/stop", {"token": token, "name": "*", "reason": "drill <now>", "confirm": "yes"})
    assert status == 303 and headers["Location"].startswith("/?notice=stopped")
    _, body, _ = cluster.get("/")
    assert "EMERGENCY STOP in force" in body and "drill &lt;now&gt;" in body
    refused = cluster.baton("submit", cluster.spec_file(echo_spec("during-stop")), check=False)
    assert refused.returncode == 2 and "stopped" in refused.stderr
    status, _, _ = cluster.post("/go", {"token": token, "name": "*", "confirm": "yes"})
    assert status == 303
    _, body, _ = cluster.get("/")
    assert "EMERGENCY STOP" not in body
    assert cluster.run(echo_spec("after-go"))["state"] == "SUCCEEDED"


def test_a_broker_that_is_down_gives_a_clear_page_and_the_server_keeps_serving(cluster):
    cluster.stop(cluster.broker)
    for path in ["/", "/workflows", "/workers"]:
        started = time.monotonic()
        status, body, _ = cluster.get(path)
        assert status == 503, path
        assert f"broker unreachable at {cluster.clients}" in body, path
        assert time.monotonic() - started < 10, path  # one timeout of 1 s at most, never a hang
    status, _, _ = cluster.get("/static/baton.css")
    assert status == 200
    cluster.start_broker()
    deadline = time.monotonic() + 20
    while cluster.get("/")[0] != 200:
        assert time.monotonic() < deadline, "pages did not come back with the broker"
        time.sleep(0.5)


def test_live_stream_sends_events_and_ends(cluster):
    done = cluster.run(echo_spec("sse"))
    status, body, headers = cluster.get(f"/workflows/{done['id']}/events?after=0")
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert "event: baton\nid: 1\n" in body
    assert "event: end\ndata: SUCCEEDED" in body
    _, resumed, _ = cluster.get(f"/workflows/{done['id']}/events", headers={"Last-Event-ID": "3"})
    assert "id: 3\n" not in resumed and "id: 4\n" in resumed


def test_a_big_workflow_is_read_a_window_at_a_time(cluster):
    blocks = [{"concurrency": 1, "jobs": [{"type": "echo", "name": f"b{b}-j{j}", "args": {"n": j}} for j in range(50)]}
              for b in range(60)]
    wid = cluster.submit({"name": "big", "blocks": blocks})  # 3,000 jobs, never run: STATUS pages all the same
    status, body, _ = cluster.get(f"/workflows/{wid}")
    assert status == 200
    assert "Jobs 1–100" in body and body.count('data-job="') == 100
    assert f'href="/workflows/{wid}?from=100"' in body
    assert 'id="block-counts"' in body and "×60" in body  # 60 blocks summarised, not listed
    status, body, _ = cluster.get(f"/workflows/{wid}?from=2950")
    assert "Jobs 2951–3000" in body and body.count('data-job="') == 50
    assert "?from=3000" not in body  # the last window
    assert ">59.49 b59-j49<" in body


def test_live_streams_are_bounded(cluster):
    """Each live page holds a WATCH on one of the 8 live threads; a ninth is told to come
    back later instead of queueing behind them (and the pages still answer)."""
    import socket

    wid = cluster.submit(sleep_spec("bounded", 60_000, 1))
    cluster.baton("exec", wid)
    host, port = cluster.url.removeprefix("http://").split(":")
    streams = []
    try:
        for _ in range(9):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(f"GET /workflows/{wid}/events HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            streams.append(s)
            time.sleep(0.1)  # in order: the ninth is the one refused
        first = [s.recv(4096).decode(errors="replace") for s in streams]
        assert all("200 OK" in f for f in first)
        assert sum("too many live pages open" in f for f in first) == 1, first
        assert "too many live pages open" in first[-1]
        assert cluster.get("/")[0] == 200  # page reads have their own threads
    finally:
        for s in streams:
            s.close()
        cluster.baton("cancel", wid)  # so the worker's drain at teardown does not wait for the sleep
