"""A Baton worker (BATON-W/1, spec section 9).

    from baton import Worker
    w = Worker("tcp://127.0.0.1:5556", name="py1", capacity=4)

    @w.job("py.greet")
    def greet(job):
        return {"message": f"hello, {job.args.get('who', 'world')}"}

    w.run()   # until Ctrl-C, SIGTERM or w.stop()

One I/O thread owns the DEALER socket: it sends READY, beats at the broker's
``interval_ms``, receives JOBs and CANCELs, and sends RESULTs. Each JOB runs its handler
in a thread of its own (the broker sends at most ``capacity`` at once). When the broker
stays silent for 3 intervals, or sends DISCONNECT (e.g. after its restart), the worker
closes its socket, opens a fresh one and sends READY again; work still running goes on
and its RESULT is sent on the new connection (the broker's fencing decides if it counts).

A handler gets a ``Job`` and returns the output (any JSON value, or None for none). It
fails the attempt by raising: ``JobFailed(message, retryable=False)`` fails the job at
once; any other exception is a retryable failure. A handler SHOULD check
``job.cancelled`` (a ``threading.Event``) in long work, or sleep with ``job.wait(s)``:
after a CANCEL, or once ``timeout_ms`` has passed, no RESULT is sent for the attempt.
"""

from __future__ import annotations

import logging
import os
import signal
import socket as pysocket
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

import zmq

from . import transport
from .errors import JobCancelled, JobFailed
from .wire import MAX_RESULT_ERROR_BYTES, WireError, parse_worker_message, worker_message

DEFAULT_WORKER_ENDPOINT = "tcp://127.0.0.1:5556"
DEFAULT_INTERVAL_MS = 1000  # until the broker's first HEARTBEAT (9.4)
LIVENESS = 3  # intervals of silence before the peer counts as dead (10.7)
READY_BACKOFF_S = (1.0, 30.0)  # after a rejected READY: 1 s doubling to 30 s (9.3)

log = logging.getLogger("baton.worker")

Handler = Callable[["Job"], Any]
AttemptKey = Tuple[str, int]


class Job:
    """One attempt of a job, as the JOB message gave it."""

    def __init__(self, job_id: str, workflow_id: str, attempt: int, type: str, args: Dict[str, Any], timeout_ms: int):
        self.job_id = job_id
        self.workflow_id = workflow_id
        self.attempt = attempt
        self.type = type
        self.args = args
        self.timeout_ms = timeout_ms
        self.received_at = time.monotonic()
        #: Set when the broker cancelled this attempt, when its timeout passed, or when
        #: the worker stops. No RESULT is sent for it afterwards.
        self.cancelled = threading.Event()
        self.cancel_reason: Optional[str] = None

    @property
    def deadline(self) -> Optional[float]:
        """``time.monotonic()`` value at which the broker's timeout passes, if any."""
        return self.received_at + self.timeout_ms / 1000.0 if self.timeout_ms > 0 else None

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` if the attempt was cancelled."""
        if self.cancelled.is_set():
            raise JobCancelled(self.cancel_reason or "cancelled")

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True (early) if the attempt was cancelled."""
        return self.cancelled.wait(seconds)

    def _cancel(self, reason: str) -> None:
        if not self.cancelled.is_set():
            self.cancel_reason = reason
            self.cancelled.set()

    def __repr__(self) -> str:
        return f"Job({self.job_id!r}, attempt={self.attempt}, type={self.type!r})"



def _truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


class Worker:
    """A BATON-W/1 worker. Register handlers with ``@worker.job("type")``, then
    ``run()`` (blocking) or ``start()`` (a background thread); ``stop()`` leaves
    cleanly (DISCONNECT, then close).

    CURVE keys are given as for ``Client``: ``curve_server`` (the broker's ``NAME.key``
    or Z85 key) and ``curve_secret`` (this worker's ``NAME.key_secret``), or the Z85
    keys ``curve_server_key``, ``curve_public_key``, ``curve_secret_key``. The broker
    must list the key in its ``--workers-allow`` directory; an unlisted key never
    registers (no HEARTBEAT comes back, ``wait_registered`` times out)."""

    def __init__(
        self,
        endpoint: str = DEFAULT_WORKER_ENDPOINT,
        *,
        name: Optional[str] = None,
        capacity: int = 4,
        curve_server_key: Union[str, bytes, None] = None,
        curve_public_key: Union[str, bytes, None] = None,
        curve_secret_key: Union[str, bytes, None] = None,
        curve_server: transport.PathOrKey = None,
        curve_secret: transport.PathOrKey = None,
        context: Optional[zmq.Context] = None,
        default_interval_ms: int = DEFAULT_INTERVAL_MS,
    ):
        if not 1 <= int(capacity) <= 10000:
            raise ValueError("capacity must be between 1 and 10000")
        self.endpoint = endpoint
        self.name = name or f"{pysocket.gethostname()}-{os.getpid()}"
        self.capacity = int(capacity)
        self.interval_ms = int(default_interval_ms)
        #: The largest RESULT body the broker accepts (its HEARTBEAT's ``max_output_bytes``,
        #: spec 9.2); None until told. A bigger RESULT is sent as a clean failure instead.
        self.max_output_bytes: Optional[int] = None
        self._curve = transport.curve_keys(curve_server_key, curve_public_key, curve_secret_key,
                                           curve_server=curve_server, curve_secret=curve_secret)
        self._own_context = context is None
        self._context = context
        self._handlers: Dict[str, Handler] = {}
        self._running: Dict[AttemptKey, Job] = {}
        self._outbox: Deque[Tuple[AttemptKey, List[bytes]]] = deque()
        self._outbox_lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        #: Set while the broker has acknowledged this connection's READY.
        self.registered = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._wake_r = self._wake_w = -1
        self._socket: Optional[zmq.Socket] = None
        self._poller: Optional[zmq.Poller] = None
        self._ready_backoff = 0.0
        self._reconnect_at: Optional[float] = None
        self._last_sent = self._last_heard = 0.0
        self.stats = {"jobs": 0, "results": 0, "cancelled": 0, "connections": 0, "disconnects": 0}

    # ------------------------------------------------------------ handlers

    def job(self, job_type: str) -> Callable[[Handler], Handler]:
        """Decorator: ``@worker.job("file.write")`` registers the handler of a type."""

        def register(fn: Handler) -> Handler:
            self.register(job_type, fn)
            return fn

        return register

    def register(self, job_type: str, handler: Handler) -> None:
        if not isinstance(job_type, str) or not job_type:
            raise ValueError("a job type is a non-empty string")
        self._handlers[job_type] = handler

    @property
    def types(self) -> List[str]:
        return sorted(self._handlers)

    @property
    def running_jobs(self) -> List[Job]:
        return list(self._running.values())

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "Worker":
        """Run in a background (daemon) thread; returns at once."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("worker already running")
        if not self._handlers:
            raise RuntimeError("no job handlers registered")
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run_safely, name=f"baton-worker-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run_safely(self) -> None:
        try:
            self._loop()
        except Exception:  # pragma: no cover - logged, never silent
            log.exception("worker %s: I/O loop crashed", self.name)
            self._stopped.set()

    def run(self) -> None:
        """Run in this thread until ``stop()``, SIGTERM or Ctrl-C; leaves cleanly."""
        if not self._handlers:
            raise RuntimeError("no job handlers registered")
        self._stopped.clear()
        previous = None
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            previous = signal.signal(signal.SIGTERM, lambda *_: self.stop(wait=False))
        try:
            self._loop()
        except KeyboardInterrupt:
            self._shutdown()
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)

    def stop(self, wait: bool = True, timeout: float = 5.0) -> None:
        """Leave: send DISCONNECT, close the socket. Running attempts are abandoned (the
        broker retries them elsewhere, as ``worker lost``) and their RESULTs not sent."""
        self._stopping.set()
        self._wake()
        if wait and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        elif wait and self._thread is None and threading.current_thread() is not threading.main_thread():
            self._stopped.wait(timeout)

    def wait_registered(self, timeout: float = 10.0) -> bool:
        return self.registered.wait(timeout)

    # ------------------------------------------------------------ the I/O loop

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass

    def _loop(self) -> None:
        if self._context is None:
            self._context = zmq.Context()
        self._stopping.clear()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller = zmq.Poller()
        self._poller.register(self._wake_r, zmq.POLLIN)
        try:
            self._connect()
            while not self._stopping.is_set():
                now = time.monotonic()
                wait_s = self._next_due(now) - now
                events = dict(self._poller.poll(max(0, int(wait_s * 1000)) if wait_s > 0 else 0))
                if self._wake_r in events:
                    try:
                        while os.read(self._wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                if self._socket is not None and self._socket in events:
                    self._drain_socket()
                if self._stopping.is_set():
                    break
                self._timers(time.monotonic())
                self._flush_outbox()
        finally:
            self._shutdown()

    def _next_due(self, now: float) -> float:
        interval = self.interval_ms / 1000.0
        due = now + interval
        if self._socket is not None:
            due = min(due, self._next_beat, self._last_heard + LIVENESS * interval)
        elif self._reconnect_at is not None:
            due = min(due, self._reconnect_at)
        for job in list(self._running.values()):
            d = job.deadline
            if d is not None:
                due = min(due, d)
        return due

    def _timers(self, now: float) -> None:
        if self._socket is None:
            if self._reconnect_at is not None and now >= self._reconnect_at:
                self._connect()
            return
        interval = self.interval_ms / 1000.0
        if now - self._last_heard >= LIVENESS * interval:
            log.warning("worker %s: broker silent for %d intervals; reconnecting", self.name, LIVENESS)
            self._reconnect(0.0)
            return
        if now >= self._next_beat:
            self._send("HEARTBEAT", {})
        for key, job in list(self._running.items()):
            d = job.deadline
            if d is not None and now >= d:
                # The broker has timed the attempt out too (it counts from dispatch).
                job._cancel("timed out")
                self._running.pop(key, None)

    def _connect(self) -> None:
        self._reconnect_at = None
        s = transport.connect(self._context, zmq.DEALER, self.endpoint, self._curve)
        self._socket = s
        self._poller.register(s, zmq.POLLIN)
        self.stats["connections"] += 1
        now = time.monotonic()
        self._last_heard = now
        self._send("READY", {"worker": self.name, "types": self.types, "capacity": self.capacity})

    def _close_socket(self, linger_ms: int = 0) -> None:
        self.registered.clear()
        if self._socket is not None:
            try:
                self._poller.unregister(self._socket)
            except KeyError:
                pass
            self._socket.close(linger=linger_ms)
            self._socket = None

    def _reconnect(self, delay_s: float) -> None:
        self._close_socket()
        if delay_s > 0:
            self._reconnect_at = time.monotonic() + delay_s
        else:
            self._connect()

    def _send(self, command: str, body: Dict[str, Any]) -> None:
        self._send_frames(worker_message(command, body))

    def _send_frames(self, frames: List[bytes]) -> bool:
        if self._socket is None:
            return False
        try:
            self._socket.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            log.warning("worker %s: send queue full; message dropped", self.name)
            return False
        # Any message counts as a sign of life (9.2): the next beat is one interval on.
        self._last_sent = time.monotonic()
        return True

    @property
    def _next_beat(self) -> float:
        # Computed, so that adopting a shorter interval_ms takes effect at once.
        return self._last_sent + self.interval_ms / 1000.0

    def _drain_socket(self) -> None:
        while self._socket is not None:
            try:
                frames = self._socket.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            self._last_heard = time.monotonic()
            try:
                command, body = parse_worker_message(frames)
            except WireError as e:
                log.warning("worker %s: dropped a malformed message from the broker: %s", self.name, e)
                continue
            self._handle(command, body)

    def _handle(self, command: str, body: Dict[str, Any]) -> None:
        if command == "HEARTBEAT":
            interval = body.get("interval_ms")
            if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0:
                self.interval_ms = interval
            limit = body.get("max_output_bytes")
            if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
                self.max_output_bytes = limit
            self._ready_backoff = 0.0
            self.registered.set()
        elif command == "JOB":
            self._start_job(body)
        elif command == "CANCEL":
            key = (body.get("job_id"), body.get("attempt"))
            job = self._running.pop(key, None)  # type: ignore[arg-type]
            if job is not None:
                self.stats["cancelled"] += 1
                job._cancel(str(body.get("reason") or "cancelled"))
                log.info("worker %s: %s attempt %s cancelled (%s)", self.name, job.job_id, job.attempt, job.cancel_reason)
        elif command == "DISCONNECT":
            reason = str(body.get("reason") or "")
            self.stats["disconnects"] += 1
            if reason.startswith("bad READY"):
                # The same READY would be rejected again: back off (9.3).
                lo, hi = READY_BACKOFF_S
                self._ready_backoff = lo if self._ready_backoff == 0 else min(hi, self._ready_backoff * 2)
                log.error("worker %s: READY rejected (%s); retrying in %.0f s", self.name, reason, self._ready_backoff)
                self._reconnect(self._ready_backoff)
            else:
                log.info("worker %s: broker sent DISCONNECT (%s); reconnecting", self.name, reason)
                self._reconnect(0.0)
        else:
            log.warning("worker %s: ignored %s from the broker", self.name, command)

    def _start_job(self, body: Dict[str, Any]) -> None:
        job_id, attempt, job_type = body.get("job_id"), body.get("attempt"), body.get("type")
        args = body.get("args", {})
        timeout_ms = body.get("timeout_ms", 0)
        if (not isinstance(job_id, str) or not isinstance(attempt, int) or isinstance(attempt, bool)
                or not isinstance(job_type, str)):
            log.warning("worker %s: dropped a malformed JOB: %r", self.name, body)
            return
        key = (job_id, attempt)
        if key in self._running:
            return  # a duplicate of an attempt already running
        if not isinstance(args, dict):
            args = {}
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms < 0:
            timeout_ms = 0
        workflow_id = body.get("workflow_id") if isinstance(body.get("workflow_id"), str) else ""
        job = Job(job_id, workflow_id, attempt, job_type, args, timeout_ms)
        handler = self._handlers.get(job_type)
        self.stats["jobs"] += 1
        if handler is None:
            # The broker sends only declared types (9.3); answer rather than hang it.
            self._send_frames(self._result_frames(job, False, error=f"this worker has no handler for type {job_type!r}"))
            return
        self._running[key] = job
        t = threading.Thread(target=self._run_job, args=(job, handler), name=f"baton-job-{job_id}#{attempt}", daemon=True)
        t.start()

    def _result_frames(self, job: Job, ok: bool, output: Any = None, error: Optional[str] = None,
                       retryable: bool = True) -> List[bytes]:
        body: Dict[str, Any] = {"job_id": job.job_id, "attempt": job.attempt, "ok": ok}
        if ok and output is not None:
            body["output"] = output
        if not ok:
            body["error"] = _truncate_utf8(error or "job failed", MAX_RESULT_ERROR_BYTES)
            if not retryable:
                body["retryable"] = False
        try:
            frames = worker_message("RESULT", body)
        except WireError as e:
            return worker_message("RESULT", {"job_id": job.job_id, "attempt": job.attempt, "ok": False,
                                             "error": f"the handler's output is not JSON: {e}", "retryable": False})
        limit = self.max_output_bytes
        if limit is not None and len(frames[-1]) > limit:
            log.warning("worker %s: RESULT of %d bytes for %s is over the broker's max_output_bytes %d; sending a failure",
                        self.name, len(frames[-1]), job.job_id, limit)
            return worker_message("RESULT", {
                "job_id": job.job_id, "attempt": job.attempt, "ok": False, "retryable": False,
                "error": f"output too large: a RESULT of {len(frames[-1])} bytes is over the broker's max_output_bytes ({limit})"})
        return frames

    def _run_job(self, job: Job, handler: Handler) -> None:
        frames: Optional[List[bytes]]
        try:
            output = handler(job)
            frames = self._result_frames(job, True, output=output)
        except JobCancelled:
            frames = None
        except JobFailed as e:
            frames = self._result_frames(job, False, error=e.message, retryable=e.retryable)
        except BaseException as e:  # noqa: BLE001 - a handler's failure is the attempt's failure
            log.info("worker %s: %s attempt %d failed: %r", self.name, job.job_id, job.attempt, e)
            frames = self._result_frames(job, False, error=f"{type(e).__name__}: {e}")
        with self._outbox_lock:
            self._outbox.append(((job.job_id, job.attempt), frames))
        self._wake()

    def _flush_outbox(self) -> None:
        while True:
            with self._outbox_lock:
                if not self._outbox:
                    return
                key, frames = self._outbox[0]
                job = self._running.get(key)
                if frames is None or job is None or job.is_cancelled:
                    # Cancelled, timed out or abandoned: no RESULT (9.3).
                    self._outbox.popleft()
                    self._running.pop(key, None)
                    continue
                if self._socket is None:
                    return  # kept until the next connection
                self._outbox.popleft()
            if self._send_frames(frames):
                self.stats["results"] += 1
            self._running.pop(key, None)

    def _shutdown(self) -> None:
        try:
            for job in list(self._running.values()):
                job._cancel("worker stopping")
            self._running.clear()
            if self._socket is not None:
                try:
                    self._socket.send_multipart(worker_message("DISCONNECT", {}), flags=zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass
                self._close_socket(linger_ms=1000)
            if self._own_context and self._context is not None:
                self._context.term()
                self._context = None
            for fd in (self._wake_r, self._wake_w):
                if fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._wake_r = self._wake_w = -1
        finally:
            self._stopped.set()
