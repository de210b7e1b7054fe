"""A broker started with a configuration file (spec 4.5): the SDK surfaces rate_limited's
retry_after_ms and policy_denied's policy and rule (section 8)."""

from datetime import datetime, timedelta, timezone
import time
import uuid

import pytest

from baton import PolicyDenied, RateLimited
from conftest import HEARTBEAT_MS
from helpers import job, workflow

NOBODY = "nobody.declares.this"  # a job type no worker serves: its jobs stay PENDING


def configured(broker_factory, yaml_text):
    """A broker started with `--config FILE`, FILE holding `yaml_text`."""
    b = broker_factory(start=False)
    path = b.dir / "baton.yaml"
    path.write_text(yaml_text)
    b.extra = ["--config", str(path)]
    return b.start()


def test_exec_over_max_running_is_rate_limited_with_retry_after_ms(broker_factory):
    name = f"hello-{uuid.uuid4().hex[:8]}"
    b = configured(broker_factory, f"limits:\n  workflows:\n    {name}: {{max_running: 1}}\n")
    with b.client() as c:
        first = c.submit(workflow([job(NOBODY)], name=name)).id
        second = c.submit(workflow([job(NOBODY)], name=name)).id
        other = c.submit(workflow([job(NOBODY)], name="unlimited")).id
        assert c.exec(first)["state"] == "RUNNING"
        with pytest.raises(RateLimited) as e:
            c.exec(second)
        assert e.value.code == "rate_limited" and e.value.retryable
        assert isinstance(e.value.retry_after_ms, int) and e.value.retry_after_ms >= 1
        assert e.value.details["retry_after_ms"] == e.value.retry_after_ms
        # §4.5: for max_running the hint is one heartbeat interval.
        assert e.value.retry_after_ms == HEARTBEAT_MS
        assert c.status(second)["state"] == "SUBMITTED"  # refused, not started: EXEC again later
        assert c.exec(other)["state"] == "RUNNING"  # another name is not limited
        assert c.cancel(first)["state"] == "CANCELLED"
        # Honour the hint, then the same EXEC goes through.
        time.sleep(e.value.retry_after_ms / 1000)
        assert c.exec(second)["state"] == "RUNNING"


def test_policy_denied_carries_policy_and_rule(broker_factory):
    b = configured(broker_factory, """\
default: deny
policies:
  - name: only-echo
    workflows: ["echoes-*"]
    rules:
      - allowed_job_types: [echo]
""")
    with b.client() as c:
        with pytest.raises(PolicyDenied) as e:
            c.submit(workflow([job("echo")], name="uncovered"))
        assert (e.value.code, e.value.policy, e.value.rule) == ("policy_denied", None, "default")
        assert not e.value.retryable
        with pytest.raises(PolicyDenied) as e:
            c.submit(workflow([job("echo"), job("sleep", {"ms": 1})], name="echoes-1"))
        assert (e.value.policy, e.value.rule) == ("only-echo", "allowed_job_types")
        assert "only-echo" in e.value.message and "sleep" in e.value.message
        assert c.list()["workflows"] == []  # nothing was stored
        allowed = c.submit(workflow([job("echo")], name="echoes-2"))
        assert c.exec(allowed.id)["state"] == "RUNNING"


def test_limits_reports_each_limit_and_the_stops_in_force(broker_factory):
    """LIMITS (spec 4.3.9): a job type's bucket starts empty and holds its queued jobs."""
    b = configured(broker_factory, f"""\
limits:
  job_types:
    {NOBODY}: {{rate: 1/hour, burst: 3}}
  workflows:
    erase: {{max_running: 2, rate: 5/min}}
  clients: {{max_in_flight: 100}}
""")
    with b.client() as c:
        first = c.limits()
        next_token_at = first["job_types"][0]["next_token_at"]
        # The bucket started empty at the broker's start: its first token is an hour on.
        ahead = datetime.strptime(next_token_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) \
            - datetime.now(timezone.utc)
        assert timedelta(minutes=59) < ahead <= timedelta(hours=1), next_token_at
        assert first == {"job_types": [{"type": NOBODY, "rate": "1/h", "burst": 3, "tokens": 0,
                                        "queued": 0, "next_token_at": next_token_at}],
                         "workflows": [{"name": "erase", "max_running": 2, "running": 0, "rate": "5/min",
                                        "started_in_window": 0}],
                         "clients": {"max_in_flight": 100, "at_limit": 0},
                         "stops": []}
        assert c.limits()["job_types"][0]["next_token_at"] == next_token_at, "a time shown twice reads the same"
        wf = c.submit(workflow([job(NOBODY)], name="erase")).id
        c.exec(wf)
        c.stop("rollout", "bad rollout")
        report = c.limits()
        assert report["workflows"][0]["running"] == 1
        assert report["workflows"][0]["started_in_window"] == 1
        assert [(s["name"], s["reason"], s["source"]) for s in report["stops"]] == [("rollout", "bad rollout", "stop")]
        c.go("rollout")


def test_limits_of_a_broker_without_config_is_empty(broker_factory):
    b = broker_factory()
    with b.client() as c:
        assert c.limits() == {"job_types": [], "workflows": [], "stops": []}
