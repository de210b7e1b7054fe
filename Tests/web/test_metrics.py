"""/metrics: scraped and parsed with the Prometheus project's own Python parser, checked
against what the test did at the broker."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from conftest import echo_spec


def scrape(cluster) -> dict:
    """{(sample name, sorted labels): value} of one scrape, and the families' types."""
    status, text, headers = cluster.get("/metrics")
    assert status == 200, text
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return {"samples": samples, "types": types}


def value(scraped, name, **labels):
    return scraped["samples"].get((name, tuple(sorted(labels.items()))))


def test_metrics_follow_what_the_broker_did(cluster):
    n, jobs = 3, 2
    for i in range(n):
        assert cluster.run(echo_spec(f"metrics-{i}", jobs))["state"] == "SUCCEEDED"
    failing = {"name": "metrics-fail", "blocks": [{"jobs": [
        {"type": "fail", "args": {"message": "no", "retryable": False}, "retry": {"max_attempts": 1}}]}]}
    assert cluster.run(failing)["state"] == "FAILED"
    status = cluster.baton("status", "01NOSUCHWORKFLOW", check=False)
    assert status.returncode == 2

    m = scrape(cluster)
    assert value(m, "baton_up") == 1
    assert value(m, "baton_workflows_finished_total", state="SUCCEEDED") == n
    assert value(m, "baton_workflows_finished_total", state="FAILED") == 1
    assert value(m, "baton_workflows_finished_total", state="EXPIRED") == 0
    assert value(m, "baton_workflows_submitted_total") == n + 1
    assert value(m, "baton_jobs_dispatched_total") == n * jobs + 1
    assert value(m, "baton_attempts_total", outcome="succeeded") == n * jobs
    assert value(m, "baton_attempts_total", outcome="failed") == 1
    assert value(m, "baton_requests_rejected_total", code="not_found") >= 1
    assert value(m, "baton_workers") == 1
    assert value(m, "baton_job_type_workers", type="echo") == 1
    assert value(m, "baton_workflows", state="RUNNING") == 0
    assert value(m, "baton_process_resident_memory_bytes") > 0
    assert value(m, "baton_database_bytes") > 0
    assert m["types"]["baton_workflows_finished"] == "counter"  # the parser strips _total
    assert m["types"]["baton_workflows"] == "gauge"
    assert m["types"]["baton_commit_duration_seconds"] == "histogram"
    commits = value(m, "baton_commits_total")
    assert commits > 0 and value(m, "baton_commit_duration_seconds_count") == commits
    assert value(m, "baton_commit_duration_seconds_bucket", le="+Inf") == commits
    assert value(m, "baton_turn_messages_count") == value(m, "baton_turns_total") > 0

    # Counters only grow between scrapes of one broker start.
    requests_before = value(m, "baton_requests_total")
    cluster.baton("list")
    assert value(scrape(cluster), "baton_requests_total") > requests_before


def test_a_broker_restart_is_up_zero_then_a_counter_reset(cluster):
    assert cluster.run(echo_spec("before-restart"))["state"] == "SUCCEEDED"
    before = scrape(cluster)
    assert value(before, "baton_workflows_finished_total", state="SUCCEEDED") == 1
    started = value(before, "baton_broker_start_time_seconds")

    cluster.stop(cluster.broker)
    down = scrape(cluster)
    assert value(down, "baton_up") == 0
    assert value(down, "baton_requests_total") is None  # nothing stale shown as current
    assert value(down, "baton_exporter_scrape_failures_total") >= 1

    time.sleep(1.1)  # started_at has millisecond resolution; make the restart visible in seconds too
    cluster.start_broker()
    deadline = time.monotonic() + 20
    while value(after := scrape(cluster), "baton_up") != 1:
        assert time.monotonic() < deadline, "the exporter did not see the broker again"
        time.sleep(0.5)
    assert value(after, "baton_broker_start_time_seconds") > started
    assert value(after, "baton_workflows_finished_total", state="SUCCEEDED") == 0
    assert value(after, "baton_exporter_broker_restarts_total") == 1
