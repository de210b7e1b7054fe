"""The package as users get it: one version, py.typed and mypy --strict, the "baton"
logger, and the `baton-py worker module:object` command run against the broker."""

import importlib.metadata
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

import baton
from helpers import events_of, job, wait_event, wait_state, wait_until, workflow

SOURCE = Path(__file__).resolve().parents[1]  # Protocol/python


def test_one_version_string():
    assert baton.__version__ == importlib.metadata.version("baton-sdk")
    pyproject = (SOURCE / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'version = {attr = "baton.__version__"}' in pyproject
    meta = importlib.metadata.metadata("baton-sdk")
    assert meta["Requires-Python"] == ">=3.9"
    # All rights reserved until the owners choose a licence: an SPDX LicenseRef, no
    # licence classifier (PEP 639; setuptools warns about the older forms).
    assert meta["License-Expression"] == "LicenseRef-Proprietary"
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    eps = [e for e in _console_scripts() if e.name == "baton-py"]
    assert [e.value for e in eps] == ["baton.cli:main"]


def _console_scripts():
    eps = importlib.metadata.entry_points()
    if hasattr(eps, "select"):  # Python 3.10 and later
        return list(eps.select(group="console_scripts"))
    return list(eps.get("console_scripts", []))  # 3.9: a dict of groups


def test_the_installed_package_is_typed():
    assert (Path(baton.__file__).parent / "py.typed").is_file()


def test_the_baton_logger_has_a_null_handler_and_is_the_parent_of_both():
    from baton import client, worker

    root = logging.getLogger("baton")
    assert any(isinstance(h, logging.NullHandler) for h in root.handlers)
    assert client.log.parent is root and worker.log.parent is root


def _mypy_available() -> bool:
    probe = subprocess.run([sys.executable, "-m", "mypy", "--version"], capture_output=True)
    if probe.returncode == 0:
        return True
    for extra in ([], ["--break-system-packages"]):  # PEP 668 distributions need the flag
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "mypy", *extra], capture_output=True)
        if r.returncode == 0:
            return True
    return False


@pytest.mark.timeout_s(240)
def test_mypy_strict_is_clean():
    """`mypy --strict --python-version 3.9` (the oldest Python the package declares) over
    the package source (mypy installed here when missing). A mypy too new to check for
    3.9 (2.x) checks for the running Python instead; scripts/test-python under 3.9 then
    installs a mypy that can, so 3.9 is still checked."""
    if not _mypy_available():
        pytest.skip("mypy is not installed and could not be installed")
    cache = Path(tempfile.gettempdir()) / f"baton-sdk-mypy-cache-{sys.version_info[0]}.{sys.version_info[1]}"
    argv = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), "baton"]
    r = subprocess.run(argv[:3] + ["--python-version", "3.9"] + argv[3:], cwd=SOURCE, capture_output=True, text=True,
                       timeout=220)
    if r.returncode == 2 and "is not supported" in r.stderr:
        r = subprocess.run(argv, cwd=SOURCE, capture_output=True, text=True, timeout=220)
    assert r.returncode == 0, r.stdout + r.stderr


# ------------------------------------------------------------------ baton-py worker

MODULE = '''
import time
from baton import Worker

# The endpoint here is a dummy: the command line's --broker or $BATON_WORKER_BROKER wins.
worker = Worker("tcp://127.0.0.1:1", name="from-module", capacity=1)


@worker.job("py.cli")
def cli_job(job):
    time.sleep(job.args.get("sleep", 0))
    return {"got": job.args, "attempt": job.attempt}


def make_worker():
    return worker
'''


def baton_py() -> str:
    script = Path(sysconfig.get_path("scripts")) / "baton-py"
    found = str(script) if script.exists() else shutil.which("baton-py")
    if not found:
        pytest.skip("the baton-py console script is not installed (pip install ./Protocol/python)")
    return found


@pytest.mark.timeout_s(60)
def test_baton_py_worker_runs_a_module_worker_and_drains_on_sigterm(broker, procs, tmp_path):
    (tmp_path / "myjobs.py").write_text(MODULE)
    env = dict(os.environ, BATON_WORKER_BROKER=broker.worker_endpoint)
    p = procs.spawn([baton_py(), "worker", "myjobs:worker", "--name", "cli-1", "--capacity", "2",
                     "--drain-timeout", "10"], tmp_path / "baton-py.log", cwd=tmp_path, env=env)
    with broker.client() as c:
        st = wait_state_of_run(c, workflow([job("py.cli", {"n": 1})]))
        assert st["state"] == "SUCCEEDED", (tmp_path / "baton-py.log").read_text()
        assert st["blocks"][0]["jobs"][0]["output"] == {"got": {"n": 1}, "attempt": 1}
        assert wait_event(c, st["id"], "job.dispatched")["worker"] == "cli-1"
        # SIGTERM while a job runs: it finishes and reports, then the process exits 0.
        s = c.submit(workflow([job("py.cli", {"sleep": 1.0}, retry={"max_attempts": 1})]))
        c.exec(s.id)
        wait_event(c, s.id, "job.dispatched", timeout=5)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0, (tmp_path / "baton-py.log").read_text()
        done = wait_state(c, s.id, ("SUCCEEDED", "FAILED"), timeout=5)
        assert done["state"] == "SUCCEEDED" and done["blocks"][0]["jobs"][0]["attempt"] == 1
    log = (tmp_path / "baton-py.log").read_text()
    assert "draining" in log and "drained" in log


@pytest.mark.timeout_s(60)
def test_baton_py_worker_takes_broker_flag_and_factories(broker, procs, tmp_path):
    (tmp_path / "myjobs.py").write_text(MODULE)
    env = {k: v for k, v in os.environ.items() if k != "BATON_WORKER_BROKER"}
    p = procs.spawn([baton_py(), "worker", "myjobs:make_worker", "--broker", broker.worker_endpoint],
                    tmp_path / "baton-py.log", cwd=tmp_path, env=env)
    with broker.client() as c:
        st = wait_state_of_run(c, workflow([job("py.cli", {"n": 2})]))
        assert st["state"] == "SUCCEEDED", (tmp_path / "baton-py.log").read_text()
        assert wait_event(c, st["id"], "job.dispatched")["worker"] == "from-module"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0


PROCESS_MODULE = '''
import os
import time
from baton import Worker

worker = Worker("tcp://127.0.0.1:1", name="cpu", capacity=2)


@worker.job("py.where")
def where(job):
    time.sleep(job.args.get("sleep", 0))
    return {"pid": os.getpid(), "ppid": os.getppid()}
'''


@pytest.mark.timeout_s(60)
def test_baton_py_worker_executor_process_runs_each_job_in_a_process(broker, procs, tmp_path):
    """`--executor process`: a job runs in a process of its own, not the worker's; on
    SIGTERM the worker drains, and the running process job finishes and reports."""
    (tmp_path / "cpujobs.py").write_text(PROCESS_MODULE)
    log_path = tmp_path / "baton-py.log"
    p = procs.spawn([baton_py(), "worker", "cpujobs", "--broker", broker.worker_endpoint, "--executor", "process"],
                    log_path, cwd=tmp_path)
    with broker.client() as c:
        st = wait_state_of_run(c, workflow([job("py.where")]), timeout=20)
        assert st["state"] == "SUCCEEDED", log_path.read_text()
        out = st["blocks"][0]["jobs"][0]["output"]
        assert out["pid"] != p.pid
        s = c.submit(workflow([job("py.where", {"sleep": 1.0}, retry={"max_attempts": 1})]))
        c.exec(s.id)
        wait_event(c, s.id, "job.dispatched", timeout=5)
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=15) == 0, log_path.read_text()
        done = wait_state(c, s.id, ("SUCCEEDED", "FAILED"), timeout=5)
        assert done["state"] == "SUCCEEDED" and done["blocks"][0]["jobs"][0]["output"]["pid"] != p.pid
    assert "py.where (process)" in log_path.read_text()


def test_baton_py_worker_refuses_a_process_handler_that_cannot_be_pickled(tmp_path):
    (tmp_path / "lambdas.py").write_text("from baton import Worker\nworker = Worker()\n"
                                         "worker.register('py.l', lambda job: None)\n")
    r = subprocess.run([baton_py(), "worker", "lambdas", "--executor", "process"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "must be picklable" in r.stderr, r.stderr


def test_baton_py_worker_rejects_what_is_not_a_worker(tmp_path):
    (tmp_path / "notworker.py").write_text("thing = 42\n")
    r = subprocess.run([baton_py(), "worker", "notworker:thing"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 2 and "not a baton.Worker" in r.stderr


def wait_state_of_run(c, spec, timeout=10.0):
    s = c.submit(spec)
    c.exec(s.id)
    return wait_state(c, s.id, ("SUCCEEDED", "FAILED", "CANCELLED"), timeout=timeout)


def test_replies_are_annotated_with_typed_dicts():
    import typing

    from baton import aio

    hints = typing.get_type_hints(baton.Client.status)
    assert hints["return"] is baton.Status
    assert typing.get_type_hints(baton.Client.list)["return"] is baton.ListPage
    assert typing.get_type_hints(baton.Client.ping)["return"] is baton.Pong
    assert typing.get_type_hints(aio.Client.cancel)["return"] is baton.Status
    assert typing.get_type_hints(baton.Status)["blocks"] == typing.List[baton.BlockStatus]
    assert {"seq", "kind", "at"} <= baton.Event.__required_keys__
