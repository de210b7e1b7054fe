"""Fixtures: the real Swift broker and Swift workers as subprocesses, Python workers in
threads, raw ZeroMQ peers. Every process a test starts is SIGKILLed at its teardown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import RawClient, RawWorker  # noqa: E402

try:
    from baton import Client, Worker
except ImportError:  # not pip-installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from baton import Client, Worker

REPO = Path(__file__).resolve().parents[3]
HEARTBEAT_MS = 200


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


_EPHEMERAL = _ephemeral_range()


def free_port() -> int:
    """A free 127.0.0.1 port, outside the kernel's ephemeral range when possible, so that
    no outgoing connection takes it between this check and the broker's bind."""
    import random

    lo = 20000
    for _ in range(50):
        port = random.randrange(lo, _EPHEMERAL[0]) if _EPHEMERAL[0] > lo + 1000 else 0
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def baton_bin() -> str:
    path = os.environ.get("BATON_BIN") or str(REPO / ".build" / "debug" / "baton")
    if not os.access(path, os.X_OK):
        pytest.fail(f"baton binary not found at {path}: build it (swift build) or set BATON_BIN", pytrace=False)
    return path


def _die_with_parent():  # pragma: no cover - runs in the child
    """Linux: the child gets SIGKILL if pytest itself dies (no orphan brokers)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class TestTimeout(Exception):
    pass


TEST_TIMEOUT_S = float(os.environ.get("BATON_TEST_TIMEOUT", "30"))


@pytest.fixture(autouse=True)
def _per_test_timeout():
    """Fail a hung test (and run its teardown) instead of hanging the suite."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum, frame):
        raise TestTimeout(f"test took longer than {TEST_TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Procs:
    """Every subprocess a test started; all SIGKILLed at teardown."""

    def __init__(self):
        self.procs: List[subprocess.Popen] = []

    def spawn(self, argv, log_path: Path, **kw) -> subprocess.Popen:
        log = open(log_path, "ab")
        try:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None, **kw)
        finally:
            log.close()
        self.procs.append(p)
        return p

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.kill_all()


class Broker:
    """A `baton broker` subprocess on two free 127.0.0.1 ports and its own database."""

    def __init__(self, procs: Procs, binary: str, directory: Path, heartbeat_ms=HEARTBEAT_MS, ttl_seconds=3600,
                 max_message_bytes: Optional[int] = None, curve_secret_key_file: Optional[str] = None,
                 curve_public_key: Optional[bytes] = None, extra=()):
        self.procs = procs
        self.binary = binary
        self.dir = directory
        self.db = str(directory / "baton.db")
        self.client_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.worker_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.heartbeat_ms = heartbeat_ms
        self.ttl_seconds = ttl_seconds
        self.max_message_bytes = max_message_bytes
        self.curve_secret_key_file = curve_secret_key_file
        self.curve_public_key = curve_public_key
        self.extra = list(extra)
        self.log = directory / "broker.log"
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0
        self.started_ok = False

    def argv(self):
        a = [self.binary, "broker", "--clients", self.client_endpoint, "--workers", self.worker_endpoint,
             "--db", self.db, "--heartbeat-ms", str(self.heartbeat_ms), "--ttl-seconds", str(self.ttl_seconds)]
        if self.max_message_bytes is not None:
            a += ["--max-message-bytes", str(self.max_message_bytes)]
        if self.curve_secret_key_file is not None:
            a += ["--curve-secret-key-file", self.curve_secret_key_file]
        return a + self.extra

    def start(self, wait=True) -> "Broker":
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        for tries in range(5):
            self.starts += 1
            with open(self.log, "ab") as f:
                f.write(f"==== start {self.starts}: {' '.join(self.argv())}\n".encode())
            self.proc = self.procs.spawn(self.argv(), self.log)
            if not wait:
                return self
            if self.wait_ready(fail=False):
                self.started_ok = True
                return self
            if self.proc.poll() is None or "Address already in use" not in self.log_text().rsplit("==== start", 1)[-1]:
                break
            # Another process took a port between our check and the bind.
            if not self.started_ok:  # nobody knows these endpoints yet: take others
                self.client_endpoint = f"tcp://127.0.0.1:{free_port()}"
                self.worker_endpoint = f"tcp://127.0.0.1:{free_port()}"
            time.sleep(0.2)
        pytest.fail(f"broker did not start:\n{self.log_text()}", pytrace=False)

    def wait_ready(self, timeout=10.0, fail=True) -> bool:
        deadline = time.monotonic() + timeout
        curve = {"curve_server_key": self.curve_public_key} if self.curve_public_key is not None else {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if fail:
                    pytest.fail(f"broker exited with {self.proc.returncode} at start:\n{self.log_text()}", pytrace=False)
                return False
            c = RawClient(self.client_endpoint, **curve)
            try:
                if c.request("PING", {}, timeout=0.5) is not None:
                    return True
            finally:
                c.close()
        if fail:
            pytest.fail(f"broker did not answer PING within {timeout} s:\n{self.log_text()}", pytrace=False)
        return False

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def kill(self):
        """SIGKILL: no DISCONNECT, no clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout=10.0) -> int:
        """SIGTERM and wait: the broker's graceful shutdown."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def restart(self, kill=True) -> "Broker":
        if kill:
            self.kill()
        else:
            self.terminate()
        return self.start()

    def client(self, **kw) -> Client:
        kw.setdefault("timeout_ms", 3000)
        kw.setdefault("retries", 2)
        if self.curve_public_key is not None:
            kw.setdefault("curve_server_key", self.curve_public_key)
        return Client(self.client_endpoint, **kw)


def _broker_factory(procs, baton_bin, base: Path):
    n = [0]

    def make(start=True, **kw) -> Broker:
        n[0] += 1
        d = base / f"broker{n[0]}"
        d.mkdir()
        b = Broker(procs, baton_bin, d, **kw)
        if start:
            b.start()
        return b

    return make


@pytest.fixture
def broker_factory(procs, baton_bin, tmp_path):
    return _broker_factory(procs, baton_bin, tmp_path)


@pytest.fixture(scope="module")
def module_broker_factory(baton_bin, tmp_path_factory):
    """Brokers shared by the tests of one module (for tests that only read)."""
    p = Procs()
    yield _broker_factory(p, baton_bin, tmp_path_factory.mktemp("module"))
    p.kill_all()


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory()


@pytest.fixture
def client(broker):
    c = broker.client()
    yield c
    c.close()


@pytest.fixture
def swift_worker(procs, baton_bin, tmp_path):
    """Start `baton worker` subprocesses: swift_worker(broker, types=..., capacity=..., name=...).
    The file types (file.write, append) need `file_root`, the directory their paths are relative to."""
    n = [0]

    def start(broker: Broker, types="echo,sleep,fail", capacity=4, name=None,
              curve_server_key=None, file_root=None) -> subprocess.Popen:
        n[0] += 1
        name = name or f"swift{n[0]}"
        argv = [baton_bin, "worker", "--broker", broker.worker_endpoint, "--types", types,
                "--capacity", str(capacity), "--name", name]
        if file_root is not None:
            argv += ["--file-root", str(file_root)]
        if curve_server_key is not None:
            key = curve_server_key.decode() if isinstance(curve_server_key, bytes) else curve_server_key
            argv.append(f"--curve-server-key={key}")  # a Z85 key may start with '-'
        return procs.spawn(argv, tmp_path / f"worker-{name}.log")

    return start


@pytest.fixture
def py_worker():
    """Start Python Workers in threads: py_worker(broker, {"type": handler}, ...). Stopped at teardown."""
    started: List[Worker] = []

    def start(broker: Broker, handlers, capacity=4, name=None, wait=True, **kw) -> Worker:
        if broker.curve_public_key is not None:
            kw.setdefault("curve_server_key", broker.curve_public_key)
        w = Worker(broker.worker_endpoint, name=name or f"py{len(started) + 1}", capacity=capacity, **kw)
        for t, h in handlers.items():
            w.register(t, h)
        w.start()
        started.append(w)
        if wait:
            assert w.wait_registered(10), "python worker did not register"
        return w

    yield start
    for w in started:
        w.stop(timeout=5)


@pytest.fixture
def raw_clients():
    made: List[RawClient] = []

    def make(broker: Broker, **kw) -> RawClient:
        c = RawClient(broker.client_endpoint, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def raw_workers():
    made = []

    def make(broker: Broker, **kw):
        w = RawWorker(broker.worker_endpoint, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
