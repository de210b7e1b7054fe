"""Fixtures: the real Swift broker and Swift workers as subprocesses, Python workers in
threads, raw ZeroMQ peers. Every process a test starts is SIGKILLed at its teardown."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import zmq
import zmq.auth

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


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout_s(seconds): this test's time limit, instead of BATON_TEST_TIMEOUT")


@pytest.fixture(autouse=True)
def _per_test_timeout(request):
    """Fail a hung test (and run its teardown) instead of hanging the suite."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    marker = request.node.get_closest_marker("timeout_s")
    limit = max(TEST_TIMEOUT_S, float(marker.args[0])) if marker else TEST_TIMEOUT_S

    def fire(signum, frame):
        raise TestTimeout(f"test took longer than {limit} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, limit)
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


ROLES = ("clients", "workers", "admins")


class Keys:
    """The CURVE keys of one broker (spec section 3.5): its own certificate, the three
    allowlist directories of public certificates, and every key's secret certificate.
    Keys are made with pyzmq (`zmq.auth.create_certificates`) or `baton keygen`; every
    broker with keys also lists an admin key named `probe`, which `wait_ready` pings with."""

    PROBE = "probe"

    def __init__(self, base: Path, baton_bin: str, broker_tool: str = "pyzmq"):
        self.baton_bin = baton_bin
        self.secrets = base / "secrets"
        self.secrets.mkdir(parents=True)
        self.allow: Dict[str, Path] = {role: base / f"{role}-allow" for role in ROLES}
        for d in self.allow.values():
            d.mkdir()
        self.make("broker", tool=broker_tool)
        self.make(self.PROBE, "admins")

    def make(self, name: str, *roles: str, tool: str = "pyzmq") -> Path:
        """NAME.key and NAME.key_secret in the secrets directory, the public one copied
        into the allowlist of each of `roles`; returns the .key_secret path."""
        if tool == "pyzmq":
            zmq.auth.create_certificates(str(self.secrets), name)
        elif tool == "baton":
            subprocess.run([self.baton_bin, "keygen", str(self.secrets), name], check=True, capture_output=True,
                           timeout=30)
        else:
            raise ValueError(tool)
        for role in roles:
            self.allow_key(name, role)
        return self.secret(name)

    def allow_key(self, name: str, role: str):
        shutil.copyfile(self.public(name), self.allow[role] / f"{name}.key")

    def deny_key(self, name: str, role: str):
        (self.allow[role] / f"{name}.key").unlink()

    def public(self, name: str) -> Path:
        return self.secrets / f"{name}.key"

    def secret(self, name: str) -> Path:
        return self.secrets / f"{name}.key_secret"

    @property
    def server(self) -> Path:
        """The broker's public certificate: what clients and workers pass as curve_server."""
        return self.public("broker")

    def curve(self, name: Optional[str]) -> Tuple[bytes, bytes, bytes]:
        """(server, public, secret) Z85 keys for raw sockets; name None: a fresh pair no
        allowlist holds."""
        server, _ = zmq.auth.load_certificate(str(self.server))
        if name is None:
            public, secret = zmq.curve_keypair()
        else:
            public, secret = zmq.auth.load_certificate(str(self.secret(name)))
        return server, public, secret

    def sdk(self, name: str) -> Dict[str, str]:
        """Client/Worker keyword arguments for key `name`."""
        return {"curve_server": str(self.server), "curve_secret": str(self.secret(name))}

    def broker_args(self) -> List[str]:
        a = ["--curve-secret", str(self.secret("broker"))]
        for role in ROLES:
            a += [f"--{role}-allow", str(self.allow[role])]
        return a


class Broker:
    """A `baton broker` subprocess on two free 127.0.0.1 ports and its own database;
    with `keys`, both endpoints are CURVE servers admitting only the listed keys."""

    def __init__(self, procs: Procs, binary: str, directory: Path, heartbeat_ms=HEARTBEAT_MS, ttl_seconds=3600,
                 max_message_bytes: Optional[int] = None, keys: Optional[Keys] = None, extra=()):
        self.procs = procs
        self.binary = binary
        self.dir = directory
        self.db = str(directory / "baton.db")
        self.client_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.worker_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.heartbeat_ms = heartbeat_ms
        self.ttl_seconds = ttl_seconds
        self.max_message_bytes = max_message_bytes
        self.keys = keys
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
        if self.keys is not None:
            a += self.keys.broker_args()
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
        curve = self.keys.curve(Keys.PROBE) if self.keys is not None else None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if fail:
                    pytest.fail(f"broker exited with {self.proc.returncode} at start:\n{self.log_text()}", pytrace=False)
                return False
            c = RawClient(self.client_endpoint, curve=curve)
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

    def hang_up(self):
        """SIGHUP: the broker re-reads its config and allowlists."""
        self.proc.send_signal(signal.SIGHUP)

    def client(self, key: Optional[str] = None, **kw) -> Client:
        """A Client; `key` names a key of `keys` to connect with."""
        kw.setdefault("timeout", 3.0)
        kw.setdefault("retries", 2)
        if key is not None:
            kw.update(self.keys.sdk(key))
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
def keys_factory(baton_bin, tmp_path):
    """keys_factory(broker_tool="pyzmq"|"baton"): a new broker key layout."""
    n = [0]

    def make(broker_tool: str = "pyzmq") -> Keys:
        n[0] += 1
        return Keys(tmp_path / f"keys{n[0]}", baton_bin, broker_tool)

    return make


@pytest.fixture
def keys(keys_factory) -> Keys:
    """A broker key layout made with pyzmq (make more keys with keys.make(name, role...))."""
    return keys_factory()


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
              key: Optional[str] = None, file_root=None) -> subprocess.Popen:
        """`key` names a key of `broker.keys` to connect with."""
        n[0] += 1
        name = name or f"swift{n[0]}"
        argv = [baton_bin, "worker", "--broker", broker.worker_endpoint, "--types", types,
                "--capacity", str(capacity), "--name", name]
        if file_root is not None:
            argv += ["--file-root", str(file_root)]
        if key is not None:
            argv += ["--curve-server", str(broker.keys.server), "--curve-secret", str(broker.keys.secret(key))]
        return procs.spawn(argv, tmp_path / f"worker-{name}.log")

    return start


@pytest.fixture
def py_worker():
    """Start Python Workers in threads: py_worker(broker, {"type": handler}, key=..., ...).
    Stopped at teardown."""
    started: List[Worker] = []

    def start(broker: Broker, handlers, capacity=4, name=None, wait=True, key: Optional[str] = None, **kw) -> Worker:
        if key is not None:
            kw.update(broker.keys.sdk(key))
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
        w.stop(timeout=5, drain=False)  # leave at once: a test's handlers may still wait


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
