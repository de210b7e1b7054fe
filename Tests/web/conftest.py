"""Fixtures for the dashboard's end-to-end tests: the real `baton broker`, a real
`baton worker` and the real `baton web`, each a subprocess on 127.0.0.1 with free ports
and a database in a temporary folder. Every process a test starts is ended at teardown
(SIGTERM, then SIGKILL after a grace period), and gets SIGKILL if pytest itself dies."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_TIMEOUT_S = float(os.environ.get("BATON_TEST_TIMEOUT", "90"))


def free_port() -> int:
    """A free 127.0.0.1 port below the kernel's ephemeral range, so no outgoing connection
    takes it between this check and the bind."""
    for _ in range(50):
        port = random.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def _die_with_parent():  # pragma: no cover - runs in the child
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


@pytest.fixture(autouse=True)
def _per_test_timeout(request):
    """A generous limit, only against hangs: a test that passes it fails (and tears down)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise TimeoutError(f"test took longer than {TEST_TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def baton_bin() -> str:
    path = os.environ.get("BATON_BIN") or str(REPO / ".build" / "debug" / "baton")
    if not os.access(path, os.X_OK):
        pytest.fail(f"baton binary not found at {path}: build it (swift build) or set BATON_BIN", pytrace=False)
    return path


class Cluster:
    """A broker, a worker and `baton web` in one temporary folder."""

    def __init__(self, bin: str, folder: Path):
        self.bin = bin
        self.folder = folder
        self.clients = f"tcp://127.0.0.1:{free_port()}"
        self.workers = f"tcp://127.0.0.1:{free_port()}"
        self.db = folder / "baton.db"
        self.procs: List[subprocess.Popen] = []
        self.broker: Optional[subprocess.Popen] = None
        self.web: Optional[subprocess.Popen] = None
        self.url = ""
        # CURVE (test_curve.py): extra broker flags, the CLI's keys, the worker's keys.
        self.broker_extra: List[str] = []
        self.client_keys: List[str] = []
        self.worker_keys: List[str] = []

    # -- processes

    def _spawn(self, name: str, args: List[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        p = subprocess.Popen([self.bin, *args], stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                             cwd=self.folder)
        self.procs.append(p)
        return p

    def start_broker(self) -> None:
        self.broker = self._spawn("broker", ["broker", "--db", str(self.db), "--clients", self.clients,
                                             "--workers", self.workers, "--heartbeat-ms", "200", *self.broker_extra])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.baton("ping", "--timeout-ms", "300", "--retries", "1", check=False).returncode == 0:
                return
            if self.broker.poll() is not None:
                raise RuntimeError("broker exited:\n" + self.log("broker"))
            time.sleep(0.1)
        raise RuntimeError("broker did not answer PING:\n" + self.log("broker"))

    def start_worker(self, types: str = "echo,sleep,fail", capacity: int = 8) -> subprocess.Popen:
        return self._spawn("worker", ["worker", "--broker", self.workers, "--types", types,
                                      "--capacity", str(capacity), "--name", "web-test-worker", *self.worker_keys])

    def start_web(self, *extra: str) -> None:
        log = self.folder / "web.log"
        if log.exists():
            log.unlink()  # a second web in one test: read only its own address
        self.web = self._spawn("web", ["web", "--broker", self.clients, "--listen", "127.0.0.1:0",
                                       "--timeout-ms", "1000", "--retries", "2", *extra])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"serving (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace") if log.exists() else "")
            if m:
                self.url = m.group(1)
                return
            if self.web.poll() is not None:
                raise RuntimeError("baton web exited:\n" + self.log("web"))
            time.sleep(0.1)
        raise RuntimeError("baton web did not print its address:\n" + self.log("web"))

    def stop(self, p: subprocess.Popen, grace: float = 20) -> None:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)

    def close(self) -> None:
        # The web first (it is a client), then workers, the broker last: a worker whose
        # broker is gone waits for it while draining.
        for p in sorted(self.procs, key=lambda p: 0 if p is self.web else (2 if p is self.broker else 1)):
            self.stop(p)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # -- the CLI

    def baton(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([self.bin, *args, "--broker", self.clients, *self.client_keys], capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"baton {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def spec_file(self, spec: dict) -> str:
        fd, path = tempfile.mkstemp(suffix=".json", dir=self.folder)
        with os.fdopen(fd, "w") as f:
            json.dump(spec, f)
        return path

    def submit(self, spec: dict) -> str:
        return self.baton("submit", self.spec_file(spec)).stdout.strip()

    def run(self, spec: dict) -> dict:
        """SUBMIT, EXEC and wait until it ends; returns the final STATUS."""
        wid = self.submit(spec)
        self.baton("exec", wid)
        return self.wait_settled(wid)

    def status(self, wid: str) -> dict:
        return json.loads(self.baton("status", wid, "--json").stdout)

    def wait_settled(self, wid: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status(wid)
            if s["state"] not in ("SUBMITTED", "RUNNING"):
                return s
            time.sleep(0.1)
        raise AssertionError(f"{wid} did not finish in {timeout} s")

    # -- HTTP

    def get(self, path: str, headers: Optional[dict] = None):
        """(status, body text, headers) of a GET; error statuses are returned, not raised."""
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers

    def post(self, path: str, fields: dict, origin: Optional[str] = None):
        data = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if origin:
            headers["Origin"] = origin

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(urllib.request.Request(self.url + path, data=data, headers=headers), timeout=60) as r:
                return r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers

    def token(self, page: str = "/") -> str:
        status, body, _ = self.get(page)
        m = re.search(r'name="token" value="([0-9a-f]+)"', body)
        assert m, f"no form token on {page} ({status})"
        return m.group(1)


@pytest.fixture
def cluster(baton_bin, tmp_path):
    c = Cluster(baton_bin, tmp_path)
    try:
        c.start_broker()
        c.start_worker()
        c.start_web()
        yield c
    finally:
        c.close()


def echo_spec(name: str, jobs: int = 2) -> dict:
    return {"name": name, "blocks": [{"concurrency": jobs, "jobs": [
        {"type": "echo", "name": f"echo-{i}", "args": {"message": f"hello {i}"}} for i in range(jobs)]}]}


def sleep_spec(name: str, ms: int, jobs: int = 2) -> dict:
    return {"name": name, "blocks": [{"concurrency": 1, "jobs": [
        {"type": "sleep", "name": f"sleep-{i}", "args": {"ms": ms}} for i in range(jobs)]}]}
