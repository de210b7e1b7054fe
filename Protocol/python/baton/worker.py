"""A Baton worker (BATON-W/1, spec section 9).

    from baton import Worker
    w = Worker("tcp://127.0.0.1:5556", name="py1", capacity=4)

    @w.job("py.greet")
    def greet(job):
        return {"message": f"hello, {job.args.get('who', 'world')}"}

    w.run()   # until Ctrl-C, SIGTERM or w.stop()

One I/O thread owns the DEALER socket: it sends READY, beats at the broker's
``interval_ms``, receives JOBs and CANCELs, and sends RESULTs. Handlers run in a pool of
``capacity`` threads (not daemon threads: a handler is never killed mid-job), so at most
``capacity`` run at once even if a broker sent more; a JOB beyond that waits for a free
thread. When the broker stays silent for 3 intervals, or sends DISCONNECT (e.g. after
its restart), the worker abandons the attempts of that connection (their RESULTs could
not count on another one: the broker retries them), closes its socket, opens a fresh one
and sends READY again: at once if a READY was answered on the old connection, else after
1 s, doubling to 30 s (spec 9.4, pacing; likewise after a refused READY, 9.3). An attempt
is also given up once its ``timeout_ms`` has passed since its JOB came (9.3).

A handler gets a ``Job`` and returns the output (any JSON value, or None for none); an
``async def`` handler is run to completion on a fresh event loop in its thread, and is
cancelled (``asyncio.CancelledError``) when its attempt is. It fails the attempt by
raising: ``JobFailed(message, retryable=False)`` fails the job at once; any other
``Exception`` is a retryable failure. ``KeyboardInterrupt``, ``SystemExit`` and other
``BaseException``s are not a job's failure: they stop the worker at once (its attempts
go back to the broker as ``worker lost``) and ``run()`` raises them. A handler SHOULD
check ``job.cancelled`` (a ``threading.Event``) in long work, or sleep with
``job.wait(s)``: after a CANCEL, once ``timeout_ms`` has passed, or when the connection
is lost, no RESULT is sent.

CPU-bound handlers can run in a process each instead (``Worker(executor="process")``,
or ``@w.job("type", executor="process")``): the handler must be picklable (a top-level
function), its exceptions fail the attempt, ``job.heartbeat`` reaches the broker through
a pipe, and a cancelled attempt's process group gets SIGTERM (``JobCancelled`` inside
the handler), then SIGKILL after ``kill_grace`` seconds.

``stop()`` drains: READY with ``capacity`` 0 tells the broker to send no new JOB, the
running handlers finish and report (for up to ``drain_timeout`` seconds), and only then
does the worker send DISCONNECT. So rolling a fleet of workers re-runs nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import socket as pysocket
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Tuple, Union

import zmq

from . import _log, transport
from ._units import seconds
from .errors import JobCancelled, JobFailed
from .wire import MAX_RESULT_ERROR_BYTES, WireError, parse_worker_message, worker_message

DEFAULT_WORKER_ENDPOINT = "tcp://127.0.0.1:5556"
DEFAULT_INTERVAL_S = 1.0  # until the broker's first HEARTBEAT (9.4)
DEFAULT_INTERVAL_MS = 1000  # the same, as the 1.0 name had it
DEFAULT_DRAIN_TIMEOUT_S = 30.0  # like `baton worker --drain-timeout`
LIVENESS = 3  # intervals of silence before the peer counts as dead (10.7)
#: The wait before reopening after a connection that ended with no READY answered, or
#: with a READY refused (bad_ready, unsupported_version): 1 s, doubling to 30 s (9.3, 9.4).
RECONNECT_BACKOFF_S = (1.0, 30.0)
READY_BACKOFF_S = RECONNECT_BACKOFF_S  # the 1.1 name
#: libzmq's own TCP reconnect backoff of one socket: 100 ms doubling to 2 s (9.4 step 1).
SOCKET_OPTIONS = ((zmq.RECONNECT_IVL, 100), (zmq.RECONNECT_IVL_MAX, 2000))
#: Where handlers run: a thread of the worker's pool, or a process of their own.
EXECUTORS = ("thread", "process")
#: Seconds a process job has between SIGTERM (its CANCEL, timeout or the worker's stop)
#: and SIGKILL.
DEFAULT_KILL_GRACE_S = 2.0

log = _log.get("worker")

#: A job handler: takes the ``Job``, returns its output (or an awaitable of it).
Handler = Callable[["Job"], Any]
AttemptKey = Tuple[str, int]


class Job:
    """One attempt of a job, as the JOB message gave it."""

    def __init__(self, job_id: str, workflow_id: str, attempt: int, type: str, args: Dict[str, Any], timeout_ms: int,
                 heartbeat_timeout_ms: int = 0, report: Optional[Callable[[Any], None]] = None):
        self.job_id = job_id
        self.workflow_id = workflow_id
        self.attempt = attempt
        self.type = type
        self.args = args
        self.timeout_ms = timeout_ms
        #: 0: none. Otherwise the broker loses this attempt after this long without a
        #: ``heartbeat()`` (spec 9.2, PROGRESS): long handlers call it every third of it.
        self.heartbeat_timeout_ms = heartbeat_timeout_ms
        self._report = report
        self.received_at = time.monotonic()
        #: Set when the broker cancelled this attempt, when its timeout passed, or when
        #: the worker stops. No RESULT is sent for it afterwards.
        self.cancelled = threading.Event()
        self.cancel_reason: Optional[str] = None
        self._lock = threading.Lock()
        self._on_cancel: List[Callable[[], None]] = []

    @property
    def timeout(self) -> float:
        """``timeout_ms`` in seconds; 0 means no timeout."""
        return self.timeout_ms / 1000.0

    @property
    def deadline(self) -> Optional[float]:
        """``time.monotonic()`` value at which the broker's timeout passes, if any."""
        return self.received_at + self.timeout_ms / 1000.0 if self.timeout_ms > 0 else None

    @property
    def heartbeat_timeout(self) -> float:
        """``heartbeat_timeout_ms`` in seconds; 0 means none."""
        return self.heartbeat_timeout_ms / 1000.0

    def heartbeat(self, details: Any = None) -> None:
        """Send PROGRESS for this attempt: a sign of life for its ``heartbeat_timeout``
        and ``details`` (any JSON value) for people: STATUS shows the last ones, and
        ``job.progress`` events carry them. Cheap, from any thread; a no-op once the
        attempt is cancelled."""
        if self._report is not None and not self.cancelled.is_set():
            self._report(details)

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
        with self._lock:
            if self.cancelled.is_set():
                return
            self.cancel_reason = reason
            self.cancelled.set()
            callbacks, self._on_cancel = self._on_cancel, []
        for fn in callbacks:
            fn()

    def _when_cancelled(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn`` once the attempt is cancelled (now, if it already is); returns a
        function that unregisters it."""
        with self._lock:
            if not self.cancelled.is_set():
                self._on_cancel.append(fn)

                def remove() -> None:
                    with self._lock:
                        if fn in self._on_cancel:
                            self._on_cancel.remove(fn)

                return remove
        fn()
        return lambda: None

    def __repr__(self) -> str:
        return f"Job({self.job_id!r}, attempt={self.attempt}, type={self.type!r})"

    def _fields(self) -> Dict[str, Any]:
        """What a process job's ``Job`` is rebuilt from, in its process."""
        return {"job_id": self.job_id, "workflow_id": self.workflow_id, "attempt": self.attempt, "type": self.type,
                "args": self.args, "timeout_ms": self.timeout_ms, "heartbeat_timeout_ms": self.heartbeat_timeout_ms,
                "received_at": self.received_at}


# ------------------------------------------------------------------ process jobs
#
# A handler registered with executor="process" runs in a process of its own, one per
# attempt (like RQ's work horse), started with multiprocessing ("forkserver" on POSIX by
# default, or "spawn"; the handler and the Job's fields are pickled to it). A pool
# thread supervises it: it relays the process's PROGRESS (job.heartbeat) and its outcome
# over a pipe, and when the attempt is cancelled (CANCEL, timeout_ms, a lost connection,
# the worker stopping) it sends SIGTERM to the job's process group, which raises
# JobCancelled inside the handler so that `finally` blocks run, and SIGKILL after
# `kill_grace` seconds. The process leads a process group of its own: a Ctrl-C at the
# terminal does not reach it (the worker drains, and lets it finish), and the job's own
# subprocesses are signalled with it. On Linux it is also SIGKILLed if its parent dies.


class _ProcessCancelled(JobCancelled):
    """SIGTERM in a process job: its attempt was cancelled."""


def _process_main(handler: Handler, fields: Dict[str, Any], conn: "multiprocessing.connection.Connection") -> None:
    """The body of a process job's process: run the handler, send its outcome."""
    try:
        os.setpgrp()
    except OSError:  # pragma: no cover - already a group leader
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:  # pragma: no cover - best effort
            pass
    send_lock = threading.Lock()

    def report(details: Any) -> None:
        try:
            with send_lock:
                conn.send(("progress", details))
        except (pickle.PicklingError, TypeError, AttributeError, ValueError) as e:
            log.warning("PROGRESS details of %s are not JSON: %s", fields["job_id"], e)

    received_at = fields.pop("received_at")
    job = Job(report=report, **fields)
    job.received_at = received_at

    def on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
        job._cancel("terminated")
        raise _ProcessCancelled("terminated")

    signal.signal(signal.SIGTERM, on_sigterm)
    outcome: Tuple[Any, ...]
    try:
        outcome = ("ok", call_handler(handler, job))
    except JobCancelled as e:
        outcome = ("cancelled", str(e))
    except JobFailed as e:
        outcome = ("failed", e.message, e.retryable)
    except BaseException as e:  # noqa: BLE001 - in its own process, even SystemExit is the job's failure
        outcome = ("failed", f"{type(e).__name__}: {e}", True)
    try:
        with send_lock:
            try:
                conn.send(outcome)
            except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError) as e:
                conn.send(("failed", f"the handler's output is not JSON: {type(e).__name__}: {e}", False))
        conn.close()
    except (BaseException) as e:  # noqa: BLE001 - the worker is gone, or cancelled us: nobody to tell
        log.debug("process job %s: outcome not sent: %r", fields["job_id"], e)


def _signal_group(pid: Optional[int], sig: int, group_only: bool = False) -> None:
    """Signal a process job's process group (its pid), or the process alone while it has
    not made its group yet; a group that is gone is fine. ``group_only`` once the process
    was reaped: its pid may be another process's by then, but not a living group's id."""
    if pid is None:
        return
    try:
        os.killpg(pid, sig)
        return
    except (ProcessLookupError, PermissionError):
        if group_only:
            return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _describe_exit(code: Optional[int]) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"



async def _await_job(job: Job, awaitable: Awaitable[Any]) -> Any:
    """Await an async handler's result; a CANCEL of the attempt cancels its task."""
    task = asyncio.ensure_future(awaitable)
    loop = asyncio.get_running_loop()

    def cancel_task() -> None:
        try:
            loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:
            pass  # the loop is closed: the handler is done already

    remove = job._when_cancelled(cancel_task)
    try:
        return await task
    except asyncio.CancelledError:
        if job.cancelled.is_set():
            raise JobCancelled(job.cancel_reason or "cancelled") from None
        raise
    finally:
        remove()


def call_handler(handler: Handler, job: Job) -> Any:
    """The handler's output; an ``async def`` handler's coroutine (any awaitable) is run
    to completion here, on a fresh event loop of this thread (``asyncio.run``)."""
    output = handler(job)
    if inspect.isawaitable(output):
        return asyncio.run(_await_job(job, output))
    return output


def _truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


class Worker:
    """A BATON-W/1 worker. Register handlers with ``@worker.job("type")``, then
    ``run()`` (blocking) or ``start()`` (a background thread); ``stop()`` drains (no new
    JOB, running ones finish for up to ``drain_timeout`` seconds) and leaves cleanly
    (DISCONNECT, then close). Durations are in seconds.

    ``executor`` ("thread" or "process") is where handlers registered without one of
    their own run; process jobs use ``multiprocessing``'s ``start_method`` (default
    "forkserver" where there is one, else "spawn") and get ``kill_grace`` seconds
    between SIGTERM and SIGKILL once cancelled.

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
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT_S,
        curve_server_key: Union[str, bytes, None] = None,
        curve_public_key: Union[str, bytes, None] = None,
        curve_secret_key: Union[str, bytes, None] = None,
        curve_server: transport.PathOrKey = None,
        curve_secret: transport.PathOrKey = None,
        context: Optional["zmq.Context[zmq.Socket[bytes]]"] = None,
        default_interval: Optional[float] = None,
        default_interval_ms: Optional[int] = None,
        executor: str = "thread",
        start_method: Optional[str] = None,
        kill_grace: float = DEFAULT_KILL_GRACE_S,
    ):
        if not 1 <= int(capacity) <= 10000:
            raise ValueError("capacity must be between 1 and 10000")
        if drain_timeout < 0:
            raise ValueError("drain_timeout must be >= 0 seconds")
        if kill_grace < 0:
            raise ValueError("kill_grace must be >= 0 seconds")
        self.endpoint = endpoint
        self.name = name or f"{pysocket.gethostname()}-{os.getpid()}"
        self.capacity = int(capacity)
        #: Seconds ``stop()`` lets running handlers finish before leaving.
        self.drain_timeout = float(drain_timeout)
        interval = seconds(default_interval, default_interval_ms, "default_interval", "default_interval_ms",
                           DEFAULT_INTERVAL_S) or DEFAULT_INTERVAL_S
        #: The heartbeat interval in force: the broker's ``interval_ms`` (wire units).
        self.interval_ms = max(1, int(round(interval * 1000)))
        #: The largest RESULT body the broker accepts (its HEARTBEAT's ``max_output_bytes``,
        #: spec 9.2); None until told. A bigger RESULT is sent as a clean failure instead.
        self.max_output_bytes: Optional[int] = None
        #: What the broker's HEARTBEAT says it supports (e.g. ``"drain"``); empty until told.
        self.broker_features: List[str] = []
        self._curve = transport.curve_keys(curve_server_key, curve_public_key, curve_secret_key,
                                           curve_server=curve_server, curve_secret=curve_secret)
        self._own_context = context is None
        self._context = context
        self._handlers: Dict[str, Handler] = {}
        #: Each type's own executor; None: the worker's ``executor``.
        self._executors: Dict[str, Optional[str]] = {}
        self._executor = "thread"
        self.executor = executor
        #: multiprocessing's start method for process jobs: "forkserver" (the default
        #: where there is one), "spawn" or "fork".
        self.start_method = start_method or ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                             else "spawn")
        if self.start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(f"start_method {self.start_method!r} is not one of "
                             f"{', '.join(multiprocessing.get_all_start_methods())}")
        #: Seconds a process job gets between SIGTERM and SIGKILL once cancelled.
        self.kill_grace = float(kill_grace)
        self._running: Dict[AttemptKey, Job] = {}
        self._outbox: Deque[Tuple[AttemptKey, Optional[List[bytes]]]] = deque()
        self._outbox_lock = threading.Lock()
        #: PROGRESS bodies from handler threads, sent by the I/O thread.
        self._beats: Deque[Tuple[AttemptKey, Dict[str, Any]]] = deque()
        self._stopping = threading.Event()  # leave now
        self._drain_requested = threading.Event()  # take no new job, then leave
        self._drain_until: Optional[float] = None
        # Whether the broker has answered the capacity 0 READY: no JOB comes after that.
        self._drain_acked = False
        self._pool: Optional[ThreadPoolExecutor] = None
        #: A BaseException (KeyboardInterrupt, SystemExit, ...) a handler raised: it
        #: stopped the worker, and ``run()`` raises it.
        self.fatal: Optional[BaseException] = None
        self._stopped = threading.Event()
        self._stopped.set()
        #: Set while the broker has acknowledged this connection's READY.
        self.registered = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._wake_r = self._wake_w = -1
        self._socket: Optional["zmq.Socket[bytes]"] = None
        self._poller: Optional[zmq.Poller] = None
        #: The wait before the next connection when this one ends unanswered (9.4).
        self._ready_backoff = 0.0
        self._reconnect_at: Optional[float] = None
        #: Whether the broker answered a READY on this connection (a HEARTBEAT with
        #: max_output_bytes, 9.3), and on any connection so far (features are known).
        self._answered = False
        self._ever_answered = False
        self._last_sent = self._last_heard = 0.0
        self.stats = {"jobs": 0, "results": 0, "cancelled": 0, "connections": 0, "disconnects": 0,
                      "timed_out": 0, "abandoned": 0}

    # ------------------------------------------------------------ handlers

    def job(self, job_type: str, *, executor: Optional[str] = None) -> Callable[[Handler], Handler]:
        """Decorator: ``@worker.job("file.write")`` registers the handler of a type (a
        function, or an ``async def`` one). ``executor="process"`` runs it in a process
        of its own per attempt (CPU-bound or risky work), ``"thread"`` in the worker's
        thread pool; by default, where the worker's ``executor`` says."""

        def register(fn: Handler) -> Handler:
            self.register(job_type, fn, executor=executor)
            return fn

        return register

    def register(self, job_type: str, handler: Handler, *, executor: Optional[str] = None) -> None:
        if not isinstance(job_type, str) or not job_type:
            raise ValueError("a job type is a non-empty string")
        if executor is not None and executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
        self._handlers[job_type] = handler
        self._executors[job_type] = executor

    def handler(self, job_type: str) -> Handler:
        """The handler registered for ``job_type`` (``KeyError`` when none is)."""
        return self._handlers[job_type]

    @property
    def executor(self) -> str:
        """Where handlers registered without an ``executor`` of their own run: "thread"
        (the default) or "process"."""
        return self._executor

    @executor.setter
    def executor(self, value: str) -> None:
        if value not in EXECUTORS:
            raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {value!r}")
        self._executor = value

    def executor_of(self, job_type: str) -> str:
        """Where the handler of ``job_type`` runs: "thread" or "process"."""
        if job_type not in self._handlers:
            raise KeyError(job_type)
        return self._executors.get(job_type) or self._executor

    def _check_process_handlers(self) -> None:
        """A process job's handler is pickled to its process (except with "fork"):
        refuse to start with one that cannot be, rather than fail every job of it."""
        if self.start_method == "fork":
            return
        for job_type in self.types:
            if self.executor_of(job_type) != "process":
                continue
            try:
                pickle.dumps(self._handlers[job_type])
            except Exception as e:  # noqa: BLE001 - PicklingError, AttributeError, TypeError...
                raise TypeError(
                    f"the handler of {job_type!r} runs in a process ({self.start_method}), so it must be picklable: "
                    f"a function defined at the top level of an importable module, not a lambda, a nested "
                    f"function or a method of an object that cannot be pickled ({type(e).__name__}: {e})") from None

    @property
    def types(self) -> List[str]:
        return sorted(self._handlers)

    @property
    def running_jobs(self) -> List[Job]:
        return list(self._running.values())

    # ------------------------------------------------------------ lifecycle

    @property
    def draining(self) -> bool:
        """Whether a drain is under way: no new jobs, running ones finishing."""
        return self._drain_requested.is_set()

    def start(self) -> "Worker":
        """Run the I/O loop in a background (daemon) thread; returns at once. Call
        ``stop()`` before the program ends, so that running jobs finish and report."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("worker already running")
        if not self._handlers:
            raise RuntimeError("no job handlers registered")
        self._check_process_handlers()
        self._prepare()
        self._thread = threading.Thread(target=self._run_safely, name=f"baton-worker-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run_safely(self) -> None:
        try:
            self._loop()
        except Exception:  # pragma: no cover - logged, never silent
            log.exception("worker %s: I/O loop crashed", self.name)
            self._stopped.set()

    def _prepare(self) -> None:
        self._stopped.clear()
        self._stopping.clear()
        self._drain_requested.clear()
        self._drain_until = None
        self._drain_acked = False
        self.fatal = None

    def run(self) -> None:
        """Run in this thread until ``stop()``, SIGTERM or Ctrl-C; leaves cleanly.

        In the main thread, the first SIGTERM or SIGINT (Ctrl-C) drains (see ``stop``),
        a second one leaves at once. Raises the ``BaseException`` a handler raised
        (``SystemExit``, ``KeyboardInterrupt``), after leaving."""
        if not self._handlers:
            raise RuntimeError("no job handlers registered")
        self._check_process_handlers()
        self._prepare()
        previous: Dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            self._loop()
        except KeyboardInterrupt:
            self._shutdown()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if self.fatal is not None:
            raise self.fatal

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        if self._drain_requested.is_set() or self._stopping.is_set():
            log.warning("worker %s: second %s: leaving now", self.name, signal.Signals(signum).name)
            self.stop(wait=False, drain=False)
        else:
            log.info("worker %s: %s: draining (again to leave now)", self.name, signal.Signals(signum).name)
            self.stop(wait=False)

    def stop(self, wait: bool = True, timeout: Optional[float] = None, *, drain: bool = True) -> None:
        """Leave cleanly.

        With ``drain`` (the default): READY with capacity 0 (the broker sends no new
        JOB), the running handlers finish and their RESULTs go out, for up to
        ``drain_timeout`` seconds; then DISCONNECT. Attempts still running then are
        cancelled (``job.cancelled``, reason ``worker stopping``) and the broker retries
        them elsewhere as ``worker lost``. ``drain=False`` (or ``drain_timeout`` 0)
        leaves at once that way. ``wait``: block until the worker has left, at most
        ``timeout`` seconds (default: ``drain_timeout`` plus 5)."""
        if drain and self.drain_timeout > 0 and not self._stopping.is_set():
            self._drain_requested.set()
        else:
            self._stopping.set()
        self._wake()
        if not wait:
            return
        limit = self.drain_timeout + 5.0 if timeout is None else timeout
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(limit)
        elif self._thread is None and threading.current_thread() is not threading.main_thread():
            self._stopped.wait(limit)

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
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller = zmq.Poller()
        self._poller.register(self._wake_r, zmq.POLLIN)
        self._pool = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix=f"baton-job-{self.name}")
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
                if self._stopping.is_set():
                    break
                self._begin_drain()
                if self._socket is not None and self._socket in events:
                    self._drain_socket()
                if self._stopping.is_set():
                    break
                self._timers(time.monotonic())
                self._flush_beats()
                self._flush_outbox()
                if self._drained(time.monotonic()):
                    break
        finally:
            self._shutdown()

    def _begin_drain(self) -> None:
        """Once a drain is requested: READY with capacity 0, so the broker sends no new
        JOB (spec 9.2), and a deadline for the running ones. A broker whose answer did not
        announce the feature ``drain`` would refuse capacity 0 with ``bad_ready`` and end
        the running attempts as ``worker lost`` anyway: leave at once instead (9.5)."""
        if self._drain_until is not None or not self._drain_requested.is_set():
            return
        if self._ever_answered and "drain" not in self.broker_features:
            log.warning("worker %s: the broker does not support drains (no 'drain' in its features); leaving at once, "
                        "%d running job(s) will be retried elsewhere", self.name, len(self._running))
            self._stopping.set()
            return
        self._drain_until = time.monotonic() + self.drain_timeout
        log.info("worker %s draining: no new jobs; %d running job(s) may finish within %.3g s",
                 self.name, len(self._running), self.drain_timeout)
        if self._socket is not None:
            self._send_ready()

    def _drained(self, now: float) -> bool:
        """Whether a drain is over: the broker answered the capacity 0 READY (so no JOB
        is still on its way, spec 9.5) and every running job reported; or the time is up."""
        if self._drain_until is None:
            return False
        if self._drain_acked and not self._running:
            log.info("worker %s drained: every running job finished; leaving", self.name)
            return True
        if self._socket is None and not self._running:
            log.info("worker %s drained: no connection and nothing running; leaving", self.name)
            return True
        if now >= self._drain_until:
            log.warning("worker %s: drain timed out after %.3g s; %d job(s) cancelled (the broker will retry them)",
                        self.name, self.drain_timeout, len(self._running))
            return True
        return False

    def _next_due(self, now: float) -> float:
        interval = self.interval_ms / 1000.0
        due = now + interval
        if self._socket is not None:
            due = min(due, self._next_beat, self._last_heard + LIVENESS * interval)
        elif self._reconnect_at is not None:
            due = min(due, self._reconnect_at)
        if self._drain_until is not None:
            due = min(due, self._drain_until)
        for job in list(self._running.values()):
            d = job.deadline
            if d is not None:
                due = min(due, d)
        return due

    def _timers(self, now: float) -> None:
        self._give_up_timed_out(now)
        if self._socket is None:
            if self._reconnect_at is not None and now >= self._reconnect_at:
                self._connect()
            return
        interval = self.interval_ms / 1000.0
        if now - self._last_heard >= LIVENESS * interval:
            self._end_connection(f"the broker was silent for {LIVENESS} intervals")
            return
        if now >= self._next_beat:
            self._send("HEARTBEAT", {})

    def _give_up_timed_out(self, now: float) -> None:
        """Spec 9.3, giving up at timeout_ms: an attempt whose ``timeout_ms`` has passed
        since its JOB came is over, CANCEL or not (the broker counts from dispatch, a
        little earlier, and has ended it): cancel it (``job.cancelled``, reason ``timed
        out``; a process job's process is terminated) and send no RESULT. Also while no
        connection is open, and for a JOB still waiting for a free slot."""
        for key, job in list(self._running.items()):
            d = job.deadline
            if d is not None and now >= d:
                self._running.pop(key, None)
                self.stats["timed_out"] += 1
                log.info("worker %s: %s attempt %d: timeout_ms (%d) passed; giving up", self.name, job.job_id,
                         job.attempt, job.timeout_ms)
                job._cancel("timed out")

    def _connect(self) -> None:
        assert self._context is not None and self._poller is not None
        self._reconnect_at = None
        self._answered = False
        s = transport.connect(self._context, zmq.DEALER, self.endpoint, self._curve, SOCKET_OPTIONS)
        self._socket = s
        self._poller.register(s, zmq.POLLIN)
        self.stats["connections"] += 1
        now = time.monotonic()
        self._last_heard = now
        self._send_ready()

    def _send_ready(self) -> None:
        # Capacity 0 while draining, also after a reconnect: no new JOB.
        capacity = 0 if self._drain_until is not None else self.capacity
        if capacity == 0:
            # Only a registered connection can have JOBs on their way to it.
            self._drain_acked = not self.registered.is_set()
        self._send("READY", {"worker": self.name, "types": self.types, "capacity": capacity})

    def _close_socket(self, linger_ms: int = 0) -> None:
        self.registered.clear()
        if self._socket is not None:
            if self._poller is not None:
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

    def _end_connection(self, why: str, refused: bool = False) -> None:
        """The connection is over (the broker's silence, or its DISCONNECT): abandon the
        attempts it held, close it, and open the next one, paced (spec 9.4).

        Every attempt is abandoned (``job.cancelled``, reason ``connection lost``; no
        RESULT): its RESULT could not count on another connection (fencing, 10.6), and
        the broker retries it as ``worker lost``. The next connection opens at once if a
        READY was answered on this one (a broker restart gets its workers back without
        delay); otherwise, and after a refused READY, after a wait of 1 s that doubles
        with each such connection in a row, up to 30 s, and resets at the next answer.
        A draining worker leaves instead: nothing is left to drain (9.5)."""
        abandoned = list(self._running.values())
        self._running.clear()
        for job in abandoned:
            job._cancel("connection lost")
        self.stats["abandoned"] += len(abandoned)
        if abandoned:
            log.warning("worker %s: %d running job(s) abandoned with the connection (the broker retries them)",
                        self.name, len(abandoned))
        if self._drain_until is not None:
            log.info("worker %s: connection ended while draining (%s); leaving", self.name, why)
            self._close_socket()
            self._stopping.set()
            return
        if self._answered and not refused:
            self._ready_backoff = 0.0
            log.warning("worker %s: %s; reconnecting", self.name, why)
            self._reconnect(0.0)
            return
        lo, hi = RECONNECT_BACKOFF_S
        self._ready_backoff = lo if self._ready_backoff == 0 else min(hi, self._ready_backoff * 2)
        (log.error if refused else log.warning)("worker %s: %s; reconnecting in %.0f s", self.name, why,
                                                  self._ready_backoff)
        self._reconnect(self._ready_backoff)

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
                # Only the HEARTBEAT answering READY carries it (9.3): while draining, the
                # answer to the capacity 0 READY, after which no JOB comes.
                if self._drain_until is not None:
                    self._drain_acked = True
                features = body.get("features")
                self.broker_features = [f for f in features if isinstance(f, str)] if isinstance(features, list) else []
                self._answered = self._ever_answered = True
                self._ready_backoff = 0.0
            self.registered.set()
        elif command == "JOB":
            self._start_job(body)
        elif command == "CANCEL":
            job_id, attempt = body.get("job_id"), body.get("attempt")
            job = self._running.pop((job_id, attempt), None) if isinstance(job_id, str) and isinstance(attempt, int) else None
            if job is not None:
                self.stats["cancelled"] += 1
                job._cancel(str(body.get("reason") or "cancelled"))
                log.info("worker %s: %s attempt %s cancelled (%s)", self.name, job.job_id, job.attempt, job.cancel_reason)
        elif command == "DISCONNECT":
            reason = str(body.get("reason") or "")
            code = body.get("code")
            self.stats["disconnects"] += 1
            # The same READY (or version) would be refused again: back off (9.3).
            refused = code in ("bad_ready", "unsupported_version") or reason.startswith("bad READY")
            what = "READY refused" if refused else "the broker sent DISCONNECT"
            self._end_connection(f"{what} ({code}: {reason})" if isinstance(code, str) else f"{what} ({reason})",
                                 refused=refused)
        else:
            log.warning("worker %s: ignored %s from the broker", self.name, command)

    def _start_job(self, body: Dict[str, Any]) -> None:
        job_id, attempt, job_type = body.get("job_id"), body.get("attempt"), body.get("type")
        args = body.get("args", {})
        timeout_ms = body.get("timeout_ms", 0)
        heartbeat_ms = body.get("heartbeat_timeout_ms", 0)
        if not isinstance(heartbeat_ms, int) or isinstance(heartbeat_ms, bool) or heartbeat_ms < 0:
            heartbeat_ms = 0
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
        wf = body.get("workflow_id")
        job = Job(job_id, wf if isinstance(wf, str) else "", attempt, job_type, args, timeout_ms,
                  heartbeat_timeout_ms=heartbeat_ms, report=lambda details: self._queue_beat(key, details))
        handler = self._handlers.get(job_type)
        self.stats["jobs"] += 1
        if handler is None:
            # The broker sends only declared types (9.3); answer rather than hang it.
            self._send_frames(self._result_frames(job, False, error=f"this worker has no handler for type {job_type!r}"))
            return
        if self._drain_until is not None:
            # Sent before the broker read our capacity 0: run it, the drain waits for it.
            log.info("worker %s: JOB %s attempt %d arrived while draining; running it", self.name, job_id, attempt)
        self._running[key] = job
        assert self._pool is not None
        # At most `capacity` handlers run at once; a JOB beyond that waits in the pool's
        # queue (the broker should not send one, but a local bound does not depend on it).
        self._pool.submit(self._run_job, job, handler, self.executor_of(job_type) == "process")

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

    def _run_job(self, job: Job, handler: Handler, in_process: bool = False) -> None:
        """One attempt, in a pool thread (which, for a process job, supervises its
        process): its RESULT frames go to the outbox (None for no RESULT), and the I/O
        thread is woken to send them."""
        frames: Optional[List[bytes]] = None
        fatal: Optional[BaseException] = None
        try:
            if not job.cancelled.is_set():  # cancelled while it waited for a thread
                output = self._run_in_process(job, handler) if in_process else call_handler(handler, job)
                frames = self._result_frames(job, True, output=output)
        except JobCancelled:
            frames = None
        except JobFailed as e:
            frames = self._result_frames(job, False, error=e.message, retryable=e.retryable)
        except Exception as e:  # noqa: BLE001 - a handler's failure is the attempt's failure
            log.info("worker %s: %s attempt %d failed: %r", self.name, job.job_id, job.attempt, e)
            frames = self._result_frames(job, False, error=f"{type(e).__name__}: {e}")
        except asyncio.CancelledError as e:  # an async handler cancelled itself: a failure too
            frames = self._result_frames(job, False, error=f"{type(e).__name__}: {e}")
        except BaseException as e:
            # KeyboardInterrupt, SystemExit, ...: the process is asked to stop, not the job
            # to fail. Leave at once (the broker retries the attempt) and let it propagate.
            fatal = e
        with self._outbox_lock:
            self._outbox.append(((job.job_id, job.attempt), frames))
        if fatal is not None:
            log.error("worker %s: handler of %s raised %r; stopping", self.name, job.job_id, fatal)
            if self.fatal is None:
                self.fatal = fatal
            self.stop(wait=False, drain=False)
            raise fatal
        self._wake()

    def _run_in_process(self, job: Job, handler: Handler) -> Any:
        """Run a process job and return its output, or raise ``JobFailed`` (the handler
        raised, or its process died) or ``JobCancelled`` (the attempt was cancelled: its
        process got SIGTERM, then SIGKILL after ``kill_grace``)."""
        ctx: Any = multiprocessing.get_context(self.start_method)  # typeshed's BaseContext lacks Process
        reader, writer = multiprocessing.Pipe(duplex=False)
        wake_r, wake_w = os.pipe()
        proc: "multiprocessing.process.BaseProcess" = ctx.Process(target=_process_main, args=(handler, job._fields(), writer),
                           name=f"baton-job-{job.job_id}-{job.attempt}")
        try:
            proc.start()
        except Exception as e:  # noqa: BLE001 - unpicklable handler, fork failure, ...
            for fd in (wake_r, wake_w):
                os.close(fd)
            reader.close()
            raise JobFailed(f"could not start the job's process: {type(e).__name__}: {e}") from None
        finally:
            writer.close()  # the child's copy is the only one left: EOF when it exits

        def wake() -> None:
            try:
                os.write(wake_w, b"x")
            except OSError:
                pass

        remove = job._when_cancelled(wake)
        outcome: Optional[Tuple[Any, ...]] = None
        term_at: Optional[float] = None
        killed = False
        reader_open = True
        try:
            while True:
                if job.cancelled.is_set() and term_at is None:
                    term_at = time.monotonic()
                    _signal_group(proc.pid, signal.SIGTERM)
                timeout = (None if term_at is None or killed
                           else max(0.0, term_at + self.kill_grace - time.monotonic()))
                waitables: List[Any] = [proc.sentinel, wake_r] + ([reader] if reader_open else [])
                ready = multiprocessing.connection.wait(waitables, timeout)
                if wake_r in ready:
                    try:
                        os.read(wake_r, 4096)
                    except OSError:
                        pass
                while reader_open and reader.poll():
                    try:
                        msg = reader.recv()
                    except (EOFError, OSError):
                        reader_open = False
                        break
                    except Exception as e:  # noqa: BLE001 - unpicklable on this side
                        outcome = ("failed", f"the job's outcome could not be read: {type(e).__name__}: {e}", True)
                        continue
                    if msg[0] == "progress":
                        job.heartbeat(msg[1])
                    else:
                        outcome = msg
                if proc.sentinel in ready:
                    break
                if term_at is not None and not killed and time.monotonic() >= term_at + self.kill_grace:
                    log.warning("worker %s: %s attempt %d: its process ignored SIGTERM for %.3g s; SIGKILL",
                                self.name, job.job_id, job.attempt, self.kill_grace)
                    _signal_group(proc.pid, signal.SIGKILL)
                    killed = True
            proc.join()
            if term_at is not None:
                _signal_group(proc.pid, signal.SIGKILL, group_only=True)  # what is left of a cancelled job's group
        finally:
            remove()
            reader.close()
            for fd in (wake_r, wake_w):
                os.close(fd)
        code = proc.exitcode
        proc.close()
        if job.cancelled.is_set():
            raise JobCancelled(job.cancel_reason or "cancelled")
        if outcome is None:
            raise JobFailed(f"the job's process {_describe_exit(code)} before it returned")
        if outcome[0] == "ok":
            return outcome[1]
        if outcome[0] == "cancelled":  # SIGTERM from elsewhere, or check_cancelled()
            raise JobFailed(f"the job's process was cancelled: {outcome[1]}")
        raise JobFailed(str(outcome[1]), retryable=bool(outcome[2]))

    def _queue_beat(self, key: AttemptKey, details: Any) -> None:
        body: Dict[str, Any] = {"job_id": key[0], "attempt": key[1]}
        if details is not None:
            body["details"] = details
        self._beats.append((key, body))  # deque.append is thread-safe
        self._wake()

    def _flush_beats(self) -> None:
        """PROGRESS of attempts still running here; a beat for a cancelled or finished
        attempt is dropped (the broker would fence it off anyway)."""
        while self._beats and self._socket is not None:
            key, body = self._beats.popleft()
            job = self._running.get(key)
            if job is None or job.is_cancelled:
                continue
            try:
                self._send("PROGRESS", body)
            except WireError as e:
                log.warning("worker %s: PROGRESS details of %s are not JSON: %s", self.name, key[0], e)

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
            if self._pool is not None:
                # Handlers still running were cancelled above; they return on their own
                # (threads are never killed), and jobs still queued never start.
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
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
