"""Handlers for process jobs (test_sdk_worker_process.py): top-level functions of an
importable module, so that they can be pickled to the job's process."""

import os
import signal
import subprocess
import sys
import time

from baton import JobFailed


def primes(job):
    """CPU-bound: count the primes below n, the slow way; where and when it ran."""
    start = time.monotonic()
    n = job.args["n"]
    count = sum(1 for k in range(2, n) if all(k % d for d in range(2, int(k ** 0.5) + 1)))
    time.sleep(job.args.get("sleep", 0))
    return {"primes": count, "pid": os.getpid(), "pgid": os.getpgid(0), "start": start, "end": time.monotonic(),
            "attempt": job.attempt, "workflow_id": job.workflow_id}


def beating(job):
    """Longer than its heartbeat_timeout_ms, kept alive by job.heartbeat from its process."""
    for i in range(job.args["steps"]):
        job.heartbeat({"step": i, "pid": os.getpid()})
        time.sleep(job.args["every"])
    return {"steps": job.args["steps"]}


def broken(job):
    kind = job.args["kind"]
    if kind == "value":
        raise ValueError(f"bad input {job.args.get('n')}")
    if kind == "fatal":
        raise JobFailed("do not retry this", retryable=False)
    if kind == "exit":
        sys.exit(3)
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "not_json":
        return {"x": object()}
    raise AssertionError(kind)


def _write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def forever(job):
    """Runs until killed: writes its pid and its child's (a `sleep`), then spins on the
    CPU. With `deaf`, it ignores SIGTERM (only SIGKILL ends it); otherwise its `finally`
    block writes `<dir>/cleaned` when SIGTERM cuts it short."""
    d = job.args["dir"]
    if job.args.get("deaf"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "60"])
    _write(os.path.join(d, "pids"), f"{os.getpid()} {child.pid}")
    try:
        while True:
            pass
    finally:
        _write(os.path.join(d, "cleaned"), job.cancel_reason or "")


def steady(job):
    """Sleeps, ignoring any cancel: only the drain lets it finish."""
    time.sleep(job.args["sleep"])
    return {"done": job.args.get("i"), "pid": os.getpid()}
