"""Raw ZeroMQ peers and small helpers for the conformance tests."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import zmq

CTX = zmq.Context.instance()


def enc(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


Curve = Optional[Tuple[bytes, bytes, bytes]]


def _curve(sock, curve: Curve):
    """CURVE client options from (server key, own public key, own secret key)."""
    if curve is not None:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = curve


class RawClient:
    """A DEALER (or REQ) socket on the client endpoint that sends any frames."""

    def __init__(self, endpoint: str, socket_type: int = zmq.DEALER, curve: Curve = None):
        self.endpoint = endpoint
        self.sock = CTX.socket(socket_type)
        self.sock.linger = 0
        self.sock.setsockopt(zmq.RECONNECT_IVL, 20)
        _curve(self.sock, curve)
        self.sock.connect(endpoint)

    def send(self, frames: Sequence[bytes]):
        self.sock.send_multipart([bytes(f) for f in frames])

    def recv(self, timeout: float = 3.0) -> Optional[List[bytes]]:
        if self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            return self.sock.recv_multipart()
        return None

    def roundtrip(self, frames: Sequence[bytes], timeout: float = 3.0) -> Optional[List[bytes]]:
        self.send(frames)
        return self.recv(timeout)

    def request(self, command: str, body: Any, tag: bytes = b"t", timeout: float = 3.0):
        """(reply name, tag, body dict) of a well-framed request, or None on timeout."""
        raw = body if isinstance(body, bytes) else enc(body)
        reply = self.roundtrip([b"", b"BATON/1", command.encode(), tag, raw], timeout)
        if reply is None:
            return None
        assert len(reply) == 5, reply
        assert reply[0] == b"" and reply[1] == b"BATON/1", reply
        return reply[2].decode(), reply[3], json.loads(reply[4])

    def close(self):
        self.sock.close(linger=0)


class RawWorker:
    """A DEALER socket on the worker endpoint speaking BATON-W/1 by hand."""

    def __init__(self, endpoint: str, curve: Curve = None):
        self.endpoint = endpoint
        self.sock = CTX.socket(zmq.DEALER)
        self.sock.linger = 0
        _curve(self.sock, curve)
        self.sock.connect(endpoint)
        self.heartbeats = 0

    def send(self, command: str, body: Any = None):
        raw = body if isinstance(body, bytes) else enc(body if body is not None else {})
        self.sock.send_multipart([b"", b"BATON-W/1", command.encode(), raw])

    def send_frames(self, frames: Sequence[bytes]):
        self.sock.send_multipart([bytes(f) for f in frames])

    def recv(self, timeout: float = 3.0) -> Optional[Tuple[str, Dict[str, Any]]]:
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        f = self.sock.recv_multipart()
        assert len(f) == 4 and f[0] == b"" and f[1] == b"BATON-W/1", f
        return f[2].decode(), json.loads(f[3])

    def expect(self, command: str, timeout: float = 3.0, beat: bool = True) -> Dict[str, Any]:
        """The next message of kind `command`, skipping (and answering) HEARTBEATs."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            got = self.recv(max(0.0, remaining)) if remaining > 0 else None
            if got is None:
                raise AssertionError(f"no {command} from the broker within {timeout} s")
            cmd, body = got
            if cmd == command:
                return body
            if cmd == "HEARTBEAT":
                self.heartbeats += 1
                if beat:
                    self.send("HEARTBEAT", {})
                continue
            raise AssertionError(f"expected {command}, got {cmd} {body}")

    def quiet(self, timeout: float, beat: bool = True) -> List[Tuple[str, Dict[str, Any]]]:
        """Everything but HEARTBEATs received during `timeout` seconds (answering beats)."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            m = self.recv(remaining)
            if m is None:
                return got
            if m[0] == "HEARTBEAT":
                self.heartbeats += 1
                if beat:
                    self.send("HEARTBEAT", {})
            else:
                got.append(m)

    def ready(self, types=("echo",), capacity=1, name="raw", timeout: float = 3.0) -> Dict[str, Any]:
        self.send("READY", {"worker": name, "types": list(types), "capacity": capacity})
        return self.expect("HEARTBEAT", timeout, beat=False)

    def result(self, job: Dict[str, Any], ok: bool = True, **fields):
        body = {"job_id": job["job_id"], "attempt": job["attempt"], "ok": ok}
        body.update(fields)
        self.send("RESULT", body)

    def close(self):
        self.sock.close(linger=0)


class FakeWorkerBroker:
    """A ROUTER on a random 127.0.0.1 port that plays the broker's worker endpoint by
    hand: it sees every message a worker sends, with its routing id and arrival time,
    and sends only what a test tells it to (nothing answers a READY by itself)."""

    ANSWER = {"interval_ms": 1000, "max_output_bytes": 1048576, "features": ["cancel_codes", "drain", "progress"]}

    def __init__(self):
        self.sock = CTX.socket(zmq.ROUTER)
        self.sock.linger = 0
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"

    def recv(self, timeout: float = 3.0) -> Optional[Tuple[bytes, str, Dict[str, Any], float]]:
        """(routing id, command, body, time.monotonic() of arrival), or None."""
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        f = self.sock.recv_multipart()
        at = time.monotonic()
        assert len(f) == 5 and f[1] == b"" and f[2] == b"BATON-W/1", f
        return f[0], f[3].decode(), json.loads(f[4]), at

    def expect(self, command: str, timeout: float = 3.0) -> Tuple[bytes, Dict[str, Any], float]:
        """The next `command` (other messages, e.g. HEARTBEATs, are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.recv(max(0.0, deadline - time.monotonic()))
            if got is None:
                raise AssertionError(f"no {command} from the worker within {timeout} s")
            rid, cmd, body, at = got
            if cmd == command:
                return rid, body, at

    def collect(self, seconds: float, command: Optional[str] = None) -> List[Tuple[bytes, str, Dict[str, Any], float]]:
        """Every message (or every `command`) received during `seconds`."""
        got = []
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            m = self.recv(remaining)
            if m is not None and (command is None or m[1] == command):
                got.append(m)

    def send(self, rid: bytes, command: str, body: Dict[str, Any]):
        self.sock.send_multipart([rid, b"", b"BATON-W/1", command.encode(), enc(body)])

    def answer(self, rid: bytes, **fields):
        """The HEARTBEAT that answers a READY (9.3); `fields` override ANSWER's."""
        self.send(rid, "HEARTBEAT", dict(self.ANSWER, **fields))

    def job(self, rid: bytes, job_id: str, type_: str, args: Optional[dict] = None, timeout_ms: int = 0,
            attempt: int = 1):
        self.send(rid, "JOB", {"job_id": job_id, "workflow_id": "wf", "attempt": attempt, "type": type_,
                               "args": args or {}, "timeout_ms": timeout_ms})

    def close(self):
        self.sock.close(linger=0)


# ------------------------------------------------------------------ workflow specs


def job(type_: str = "echo", args: Optional[dict] = None, **kw) -> Dict[str, Any]:
    j: Dict[str, Any] = {"type": type_}
    if args is not None:
        j["args"] = args
    j.update(kw)
    return j


def workflow(*blocks, name: str = "test") -> Dict[str, Any]:
    """workflow([job, ...], {"concurrency": 2, "jobs": [...]}, name=...)"""
    out = []
    for b in blocks:
        out.append(b if isinstance(b, dict) else {"jobs": list(b)})
    return {"name": name, "blocks": out}


def events_of(client, workflow_id: str, after: int = 0) -> List[Dict[str, Any]]:
    return list(client.watch(workflow_id, after, follow=False))


def kinds(events) -> List[str]:
    return [e["kind"] for e in events]


def job_state(client, workflow_id: str, block: int = 0, index: int = 0) -> Dict[str, Any]:
    return client.status(workflow_id)["blocks"][block]["jobs"][index]


def wait_state(client, workflow_id: str, states, timeout: float = 10.0) -> Dict[str, Any]:
    if isinstance(states, str):
        states = (states,)
    box = {}

    def check():
        box["s"] = client.status(workflow_id)
        return box["s"]["state"] in states

    wait_until(check, timeout, 0.03, f"workflow {workflow_id} in {states}")
    return box["s"]


def wait_event(client, workflow_id: str, kind: str, timeout: float = 10.0, **match) -> Dict[str, Any]:
    def find():
        for e in events_of(client, workflow_id):
            if e["kind"] == kind and all(e.get(k) == v for k, v in match.items()):
                return e
        return None

    return wait_until(find, timeout, 0.03, f"event {kind} {match or ''} of {workflow_id}")


def assert_no_nulls(value, path="body"):
    """Replies never carry null for an absent optional field (3.2)."""
    if value is None:
        raise AssertionError(f"{path} is null")
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "output" or k == "args":
                continue  # arbitrary JSON from a worker or a spec
            assert_no_nulls(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_no_nulls(v, f"{path}[{i}]")


class FakeBroker:
    """A ROUTER on a free port answering with a script: `respond(frames) -> reply frames
    (as a DEALER would receive them) or None to stay silent`. Runs in a thread."""

    def __init__(self, respond):
        import threading

        self.respond = respond
        self.sock = CTX.socket(zmq.ROUTER)
        self.sock.linger = 0
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.received: List[Tuple[bytes, List[bytes]]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            if not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            rid, rest = frames[0], frames[1:]
            self.received.append((rid, rest))
            reply = self.respond(rest)
            if reply is not None:
                for r in reply if isinstance(reply[0], list) else [reply]:
                    self.sock.send_multipart([rid] + r)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close(linger=0)


class LossyProxy:
    """Sits between clients and the real broker's client endpoint and drops the first
    `drop` replies after the broker handled the request: a reply lost on the way."""

    def __init__(self, backend: str, drop: int = 1):
        import threading

        self.front = CTX.socket(zmq.ROUTER)
        self.front.linger = 0
        port = self.front.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.back = CTX.socket(zmq.DEALER)
        self.back.linger = 0
        self.back.connect(backend)
        self.drop = drop
        self.dropped: List[List[bytes]] = []
        self.requests = 0
        self._pending: Dict[bytes, Tuple[bytes, bytes]] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        poller.register(self.back, zmq.POLLIN)
        while not self._stop:
            events = dict(poller.poll(50))
            if self.front in events:
                f = self.front.recv_multipart()  # [rid, "", proto, cmd, tag, body]
                self.requests += 1
                ptag = f"proxy-{self.requests}".encode()
                self._pending[ptag] = (f[0], f[4])
                self.back.send_multipart(f[1:4] + [ptag] + f[5:])
            if self.back in events:
                f = self.back.recv_multipart()  # ["", proto, name, ptag, body]
                rid, tag = self._pending.pop(f[3])
                if self.drop > 0:
                    self.drop -= 1
                    self.dropped.append(f)
                    continue
                self.front.send_multipart([rid] + f[:3] + [tag] + f[4:])

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.front.close(linger=0)
        self.back.close(linger=0)
