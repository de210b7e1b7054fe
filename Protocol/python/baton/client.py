"""A Baton client (BATON/1, spec section 4) with Lazy Pirate retries (section 10.4).

    from baton import Client
    with Client("tcp://127.0.0.1:5555") as c:
        final = c.run({"name": "hello", "blocks": [{"jobs": [{"type": "echo"}]}]},
                      journal=".baton/journal.jsonl")
        print(final["state"])

Every request is bounded by ``timeout`` (seconds); when no reply comes, the socket is
closed (linger 0) and the request is sent again on a fresh socket, up to ``retries``
tries in all, and then ``Timeout`` is raised. That is safe because every request is
idempotent: SUBMIT always carries an ``idempotency_key`` (one is generated when the
caller gives none).

A client object is safe to share between threads, and requests from different threads
do not wait for each other: each request takes a socket of its own from a small pool
for as long as it waits, so a ``cancel()`` is never held up behind another thread's
WATCH long-poll. ``baton.aio.Client`` is the asyncio twin of this class.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union, cast

import zmq

from . import _log, transport
from ._units import seconds, to_ms
from .errors import ProtocolError, Timeout, error_from_reply
from .journal import Entry, Journal
from .types import Event, Events, Limits, ListPage, Pong, Status, WorkflowSummary
from .wire import (
    EXPECTED_REPLY,
    WireError,
    client_request,
    is_final,
    is_settled,
    new_key,
    parse_client_reply,
    resume_body,
    same_spec,
    stop_body,
)

DEFAULT_CLIENT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_TIMEOUT_S = 5.0  # per try, like `baton --timeout-ms 5000`
DEFAULT_WATCH_WAIT_S = 10.0  # a WATCH long-poll
#: Idle sockets a client keeps for its next requests; more are closed when returned.
MAX_IDLE_SOCKETS = 4

Spec = Dict[str, Any]
PathLike = Union[str, "os.PathLike[str]"]
OnEvent = Optional[Callable[[Event], None]]

log = _log.get("client")


@dataclass(frozen=True)
class Submitted:
    """The ID reply to SUBMIT, with the idempotency key that was sent."""

    id: str
    state: str
    duplicate: bool
    idempotency_key: str

    @classmethod
    def from_reply(cls, reply: Dict[str, Any], key: str) -> "Submitted":
        if not isinstance(reply.get("id"), str) or not isinstance(reply.get("state"), str):
            raise ProtocolError(f"ID reply without id or state: {reply!r}")
        return cls(reply["id"], reply["state"], bool(reply.get("duplicate", False)), key)


def list_body(state: Optional[str], name: Optional[str], limit: Optional[int], before: Optional[str],
              owner: Optional[str]) -> Dict[str, Any]:
    """A LIST body with only the filters given."""
    body: Dict[str, Any] = {}
    for k, v in (("state", state), ("name", name), ("limit", limit), ("before", before), ("owner", owner)):
        if v is not None:
            body[k] = v
    return body


def stopped_count(reply: Dict[str, Any]) -> int:
    stopped = reply.get("stopped")
    if not isinstance(stopped, int) or isinstance(stopped, bool):
        raise ProtocolError(f"OK reply to STOP without a stopped count: {reply!r}")
    return stopped


def load_spec(spec: Union[Spec, PathLike], file: Optional[str]) -> Tuple[Spec, str]:
    """(spec dict, name for the journal's ``file``) from a dict or a JSON file's path."""
    if isinstance(spec, dict):
        return spec, file or "<python>"
    with open(spec, "rb") as f:
        loaded = json.loads(f.read().decode("utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{os.fspath(spec)}: a workflow spec is a JSON object")
    return loaded, file or os.fspath(spec)


class StatusPages:
    """Merges STATUS pages (spec 4.3.3) into one whole STATUS: each page's jobs are
    appended to their blocks, and the workflow fields and block states are the last
    page's. Kept free of I/O so the thread and asyncio clients share it:

        pages = StatusPages(first)
        while (nxt := pages.next_from()) is not None:
            pages.add(fetch(nxt))
        whole = pages.result()
    """

    def __init__(self, first: Mapping[str, Any]):
        self.whole: Dict[str, Any] = dict(first)
        self.blocks = [dict(b, jobs=list(b.get("jobs", []))) for b in self.whole.get("blocks", [])]
        self.done = 0
        self.next: Any = self.whole.pop("jobs_next", None)

    @property
    def id(self) -> str:
        return str(self.whole.get("id"))

    def next_from(self) -> Optional[int]:
        """The ``jobs_from`` of the next page to read, or None when this was the last."""
        nxt = self.next
        if nxt is None:
            return None
        if not isinstance(nxt, int) or isinstance(nxt, bool) or nxt <= self.done:
            raise ProtocolError(f"STATUS jobs_next {nxt!r} does not move past {self.done}")
        self.done = nxt
        return nxt

    def add(self, page: Mapping[str, Any]) -> None:
        page = dict(page)
        if len(page.get("blocks", [])) != len(self.blocks):
            raise ProtocolError(f"STATUS page from job {self.done} does not match the first page's blocks")
        self.next = page.pop("jobs_next", None)
        for mine, theirs in zip(self.blocks, page["blocks"]):
            mine["state"] = theirs.get("state", mine.get("state"))
            mine["jobs"].extend(theirs.get("jobs", []))
        # The workflow fields of the latest read, like the Swift SDK.
        self.whole.update({k: v for k, v in page.items() if k != "blocks"})
        for k in [k for k in self.whole if k not in page and k != "blocks"]:
            del self.whole[k]

    def result(self) -> Status:
        self.whole["blocks"] = self.blocks
        return cast(Status, self.whole)


class WatchCursor:
    """What ``watch`` remembers between WATCH pages: the last ``seq`` seen and the
    state. Free of I/O, shared by the thread and asyncio clients."""

    def __init__(self, after: int, follow: bool):
        self.after = after
        self.follow = follow
        self.state: Optional[str] = None
        self.done = False

    def long_poll(self) -> bool:
        # A long-poll on a STOPPED workflow waits like on a RUNNING one (4.3.8): once it
        # is seen STOPPED, only read what is stored.
        return self.follow and self.state != "STOPPED"

    def take(self, page: Dict[str, Any]) -> List[Event]:
        """The page's events, in order; sets ``done`` when following should end."""
        events: List[Event] = list(page.get("events") or [])
        self.state = page.get("state")
        for event in events:
            seq = event.get("seq")
            if isinstance(seq, int) and seq > self.after:
                self.after = seq
        if not events and (not self.follow or is_settled(self.state)):
            self.done = True
        return events


class Client:
    """A BATON/1 client.

    ``socket_type`` is ``"dealer"`` (the default) or ``"req"``. ``retries`` is the number
    of tries per request (like ``baton --retries``), each waiting ``timeout`` seconds
    (``timeout_ms``, in milliseconds, still works but is deprecated).

    For CURVE (spec section 3.5) pass the broker's public key and this client's key
    pair: ``curve_server`` (the broker's ``NAME.key`` file, or its Z85 key) and
    ``curve_secret`` (this key's ``NAME.key_secret`` file, from ``baton keygen`` or
    ``zmq.auth.create_certificates``), or the Z85 keys themselves as
    ``curve_server_key``, ``curve_public_key`` and ``curve_secret_key``. The broker must
    list the key in its ``--clients-allow`` or ``--admins-allow`` directory; an unlisted
    key gets no reply at all (``Timeout``). Raises ``ValueError`` for keys that cannot
    work (a server key without a pair of its own, a public certificate as
    ``curve_secret``, a file that is not a certificate) and ``OSError`` for a file that
    cannot be read.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_CLIENT_ENDPOINT,
        *,
        timeout: Optional[float] = None,
        retries: int = 3,
        socket_type: str = "dealer",
        curve_server_key: Union[str, bytes, None] = None,
        curve_public_key: Union[str, bytes, None] = None,
        curve_secret_key: Union[str, bytes, None] = None,
        curve_server: transport.PathOrKey = None,
        curve_secret: transport.PathOrKey = None,
        context: Optional["zmq.Context[zmq.Socket[bytes]]"] = None,
        timeout_ms: Optional[int] = None,
    ):
        if socket_type not in ("dealer", "req"):
            raise ValueError("socket_type must be 'dealer' or 'req'")
        self.endpoint = endpoint
        #: Seconds each try of a request waits for its reply.
        self.timeout = seconds(timeout, timeout_ms, "timeout", "timeout_ms", DEFAULT_TIMEOUT_S) or 0.0
        self.retries = max(1, int(retries))
        self.socket_type = socket_type
        self._curve = transport.curve_keys(curve_server_key, curve_public_key, curve_secret_key,
                                           curve_server=curve_server, curve_secret=curve_secret)
        self._own_context = context is None
        self._context: Optional["zmq.Context[zmq.Socket[bytes]]"] = context or zmq.Context()
        # Held only to take or give back a socket and to count tags, never while waiting.
        self._lock = threading.Lock()
        self._idle: List["zmq.Socket[bytes]"] = []
        self._tag_prefix = "py" + secrets.token_hex(4)
        self._counter = 0

    @property
    def timeout_ms(self) -> int:
        """``timeout`` in milliseconds (the 1.0 name, read-only)."""
        return to_ms(self.timeout)

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the idle sockets and (when this client made it) the ZeroMQ context.
        Requests still waiting in other threads end first: the context waits for them."""
        with self._lock:
            for sock in self._idle:
                sock.close(linger=0)
            self._idle.clear()
            context, self._context = self._context, None
        if self._own_context and context is not None:
            context.term()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _checkout(self) -> "Tuple[zmq.Socket[bytes], bytes]":
        """A socket for one request (an idle one, or a new one) and the request's tag."""
        with self._lock:
            if self._context is None:
                raise RuntimeError("client is closed")
            self._counter += 1
            tag = f"{self._tag_prefix}-{self._counter}".encode("ascii")
            if self._idle:
                return self._idle.pop(), tag
            kind = zmq.DEALER if self.socket_type == "dealer" else zmq.REQ
            return transport.connect(self._context, kind, self.endpoint, self._curve), tag

    def _checkin(self, sock: "zmq.Socket[bytes]") -> None:
        """Give back a socket whose request got its reply (no late reply can follow)."""
        with self._lock:
            if self._context is not None and len(self._idle) < MAX_IDLE_SOCKETS:
                self._idle.append(sock)
                return
        sock.close(linger=0)

    # ------------------------------------------------------------ requests

    def request(self, command: str, body: Optional[Dict[str, Any]] = None, *, timeout: Optional[float] = None,
                timeout_ms: Optional[int] = None) -> Dict[str, Any]:
        """Send one request and return the body of its expected reply.

        Raises the ``BatonError`` subclass for an ERROR reply, ``ProtocolError`` for a
        reply of the wrong kind, ``Timeout`` after every try went unanswered."""
        wait = seconds(timeout, timeout_ms, "timeout", "timeout_ms")
        name, reply = self.exchange(command, body or {}, timeout=wait)
        return check_reply(command, name, reply)

    def exchange(self, command: str, body: Dict[str, Any], *, timeout: Optional[float] = None,
                 timeout_ms: Optional[int] = None) -> Tuple[str, Dict[str, Any]]:
        """One request, Lazy Pirate style; returns (reply name, reply body) whatever the
        reply is (ERROR included). ``timeout``: seconds per try (default: the client's)."""
        wait = seconds(timeout, timeout_ms, "timeout", "timeout_ms", self.timeout) or 0.0
        for attempt in range(1, self.retries + 1):
            sock, tag = self._checkout()
            try:
                reply = self._try_once(sock, tag, command, body, wait)
            except BaseException:
                sock.close(linger=0)  # a reply may still come: this socket cannot be reused
                raise
            if reply is not None:
                self._checkin(sock)
                return reply
            # No reply in time: a fresh socket for the next try (a REQ socket must be
            # recreated anyway; a fresh DEALER cannot receive stale replies).
            sock.close(linger=0)
            log.info("no reply to %s from %s within %.3g s (try %d of %d)", command, self.endpoint, wait,
                     attempt, self.retries)
        raise Timeout(f"no reply to {command} from {self.endpoint} after {self.retries} tries of {to_ms(wait)} ms")

    def _try_once(self, sock: "zmq.Socket[bytes]", tag: bytes, command: str, body: Dict[str, Any],
                  wait: float) -> Optional[Tuple[str, Dict[str, Any]]]:
        """Send once and wait up to ``wait`` seconds for the reply with ``tag``; None
        when none came."""
        frames = client_request(command, tag, body)
        if self.socket_type == "req":
            frames = frames[1:]
        deadline = time.monotonic() + wait
        try:
            sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            time.sleep(min(wait, 0.1))
            return None
        while True:
            remaining = int((deadline - time.monotonic()) * 1000)
            if remaining <= 0 or not sock.poll(remaining, zmq.POLLIN):
                return None
            raw = sock.recv_multipart()
            try:
                name, reply_tag, reply = parse_client_reply(raw, with_delimiter=self.socket_type == "dealer")
            except WireError as e:
                raise ProtocolError(str(e)) from None
            if reply_tag == tag:
                return name, reply
            # else a late reply to an earlier request: not ours

    # ------------------------------------------------------------ commands

    def ping(self) -> Pong:
        """PING -> PONG body ``{"time"}`` (the broker's clock)."""
        return cast(Pong, self.request("PING", {}))

    def submit(self, workflow: Spec, idempotency_key: Optional[str] = None) -> Submitted:
        """SUBMIT: stores the workflow (state SUBMITTED). Nothing runs until ``exec``."""
        key = new_key("py") if idempotency_key is None else idempotency_key
        reply = self.request("SUBMIT", {"workflow": workflow, "idempotency_key": key})
        return Submitted.from_reply(reply, key)

    def exec(self, workflow_id: str) -> Status:
        """EXEC: starts a SUBMITTED workflow; in any other state returns its STATUS (whole:
        the reply's first page, and the others read with STATUS)."""
        return self._whole_status(self.request("EXEC", {"id": workflow_id}))

    def status(self, workflow_id: str) -> Status:
        """STATUS: the whole workflow, every page read (spec section 4.3.3). The workflow
        fields and block states are those of the last page read. ``owner`` is the name of
        the key that submitted the workflow (absent on a broker without keys). A client key
        asking for another owner's workflow gets ``NotFound``, as for an id that does not
        exist."""
        return self._whole_status(self.status_page(workflow_id))

    def status_page(self, workflow_id: str, jobs_from: int = 0) -> Status:
        """One STATUS page: the jobs from ``jobs_from`` on (spec order, across blocks), at
        most 256 KiB of them; ``jobs_next`` is present when more follow."""
        body: Dict[str, Any] = {"id": workflow_id}
        if jobs_from:
            body["jobs_from"] = jobs_from
        return cast(Status, self.request("STATUS", body))

    def cancel(self, workflow_id: str) -> Status:
        """CANCEL a SUBMITTED, RUNNING or STOPPED workflow; a final one is returned unchanged.
        Returns the whole STATUS, like ``exec``."""
        return self._whole_status(self.request("CANCEL", {"id": workflow_id}))

    def _whole_status(self, first: Mapping[str, Any]) -> Status:
        """Follows ``jobs_next`` from the first page; the result has no ``jobs_next``."""
        pages = StatusPages(first)
        nxt = pages.next_from()
        while nxt is not None:
            pages.add(self.status_page(pages.id, jobs_from=nxt))
            nxt = pages.next_from()
        return pages.result()

    # ------------------------------------------------------------ emergency stop (4.3.8)

    def stop(self, name: str, reason: str) -> int:
        """STOP: the emergency stop of workflow ``name`` (``"*"``: every name). Its RUNNING
        workflows become STOPPED at once (their running attempts are cancelled and do not
        count toward ``max_attempts``); SUBMIT and EXEC of the name raise ``Stopped`` until
        ``go``. Stored by the broker, so it survives restarts. Returns how many workflows it
        moved to STOPPED (0 when resent: STOP is idempotent). An admin command: a client
        key gets ``Forbidden``."""
        return stopped_count(self.request("STOP", stop_body(name, reason)))

    def limits(self) -> Limits:
        """LIMITS (``baton limits``): the rate limits and emergency stops in force, with
        their live levels and what waits on them (spec section 4.3.9). Admin keys only
        (``Forbidden`` for a client key)."""
        return cast(Limits, self.request("LIMITS", {}))

    def go(self, name: str) -> None:
        """RESUME (``baton go``): lifts exactly the stop of ``name`` (``"*"`` lifts only the
        stop of every name, not stops of single names). Starts nothing: ``exec`` (or the
        journaled ``resume``) continues each STOPPED workflow; SUCCEEDED jobs never run again.
        Admin keys only (``Forbidden`` for a client key).

        Named after the CLI's ``baton go`` because ``resume`` is the journal's."""
        self.request("RESUME", resume_body(name))

    def list(self, state: Optional[str] = None, name: Optional[str] = None, limit: Optional[int] = None,
             before: Optional[str] = None, owner: Optional[str] = None) -> ListPage:
        """LIST: one page ``{"workflows": [...], "next"?}``, newest first. Each summary
        carries ``owner`` (the submitting key's name) on a broker with keys. ``owner``
        filters by it for admin keys; a client key always sees only its own workflows
        (spec section 3.6)."""
        return cast(ListPage, self.request("LIST", list_body(state, name, limit, before, owner)))

    def list_all(self, state: Optional[str] = None, name: Optional[str] = None, page_size: int = 200,
                 owner: Optional[str] = None) -> Iterator[WorkflowSummary]:
        """Every matching workflow summary, newest first, following ``next``."""
        before = None
        while True:
            page = self.list(state=state, name=name, limit=page_size, before=before, owner=owner)
            yield from page.get("workflows", [])
            before = page.get("next")
            if not before:
                return

    def watch_page(self, workflow_id: str, after: int = 0, wait_ms: Optional[int] = None, *,
                   wait: Optional[float] = None) -> Events:
        """One WATCH: ``{"id", "events", "state"}``; long-polls up to ``wait`` seconds
        (default 0: no long-poll). ``wait_ms`` is the deprecated 1.0 spelling."""
        wait_s = seconds(wait, wait_ms, "wait", "wait_ms", 0.0) or 0.0
        body = {"id": workflow_id, "after": after, "wait_ms": to_ms(wait_s)}
        return cast(Events, self.request("WATCH", body, timeout=wait_s + self.timeout))

    def watch(self, workflow_id: str, after: int = 0, *, wait: Optional[float] = None, follow: bool = True,
              wait_ms: Optional[int] = None) -> Iterator[Event]:
        """The workflow's events with ``seq > after``, in order.

        With ``follow`` (the default) it long-polls (``wait`` seconds a WATCH, default 10)
        until the workflow is settled (final, or STOPPED by an emergency stop: see
        ``is_settled``) and every event has been read; otherwise it stops at the last
        stored event. To resume after a crash, pass the last ``seq`` seen as ``after``."""
        wait_s = seconds(wait, wait_ms, "wait", "wait_ms", DEFAULT_WATCH_WAIT_S) or 0.0
        cursor = WatchCursor(after, follow)
        while not cursor.done:
            page = self.watch_page(workflow_id, cursor.after, wait=wait_s if cursor.long_poll() else 0.0)
            yield from cursor.take(cast(Dict[str, Any], page))

    def wait(self, workflow_id: str, after: int = 0, *, on_event: OnEvent = None, wait: Optional[float] = None,
             wait_ms: Optional[int] = None) -> Status:
        """Follow the workflow until it is final or STOPPED; return that STATUS."""
        wait_s = seconds(wait, wait_ms, "wait", "wait_ms", DEFAULT_WATCH_WAIT_S)
        for event in self.watch(workflow_id, after, wait=wait_s):
            if on_event is not None:
                on_event(event)
        return self.status(workflow_id)

    # ------------------------------------------------------------ the handshake (10.1)

    def run(self, spec: Union[Spec, PathLike], journal: Optional[PathLike] = None, *,
            idempotency_key: Optional[str] = None, file: Optional[str] = None, on_event: OnEvent = None) -> Status:
        """SUBMIT, journal the id, EXEC, follow to the end; return the final STATUS.

        ``spec`` is a workflow dict or the path of a workflow JSON file. With a
        ``journal`` (the Swift CLI's format), every step is journaled and fsynced first,
        and an unfinished entry with the same spec is re-attached to instead of
        submitting again, like ``baton run``.

        When an emergency stop parks the workflow, this returns its STOPPED STATUS and
        does not journal it as finished: after ``go``, ``resume`` (or ``run`` with the same
        spec and journal) sends EXEC and it continues. ``Stopped`` is raised when SUBMIT or
        EXEC meets a stop in force."""
        entry, j = start_entry(spec, journal, idempotency_key, file)
        return self._complete(entry, j, on_event)

    def resume(self, journal: PathLike, *, on_event: OnEvent = None) -> List[Status]:
        """Complete every unfinished journal entry (like ``baton resume``): no id yet ->
        SUBMIT again with the same key and spec; SUBMITTED or STOPPED -> EXEC (which
        continues a STOPPED one, or raises ``Stopped`` while its stop is in force);
        RUNNING -> follow; final -> report. Returns the STATUS each ended in (final, or
        STOPPED and left unfinished in the journal), in journal order."""
        j = Journal(journal)
        return [self._complete(entry, j, on_event) for entry in j.unfinished()]

    @staticmethod
    def _seen_recorder(entry: Entry, j: Optional[Journal], on_event: OnEvent) -> Callable[[Event], None]:
        """Passes each event on, and journals the last ``seq`` seen (a "seen" line, as the
        Swift CLI writes) at most every 2 s: a resumed run follows from there instead of
        replaying every event. Losing the newest line to a crash only replays a little."""
        last = [time.monotonic()]

        def seen(event: Event) -> None:
            if on_event is not None:
                on_event(event)
            seq = event.get("seq")
            if isinstance(seq, int):
                entry.seen_seq = seq
            if j is not None and time.monotonic() - last[0] >= 2.0:
                last[0] = time.monotonic()
                j.append(entry, "seen")
        return seen

    def _complete(self, entry: Entry, j: Optional[Journal], on_event: OnEvent) -> Status:
        def step(name: str, state: Optional[str] = None) -> None:
            if j is not None:
                j.append(entry, name, state)

        for _ in range(3):
            if entry.id is None:
                # Journaled before SUBMIT: after a crash, the same key gets the same id.
                step("submitting")
                entry.id = self.submit(entry.spec, entry.key).id
                # The id is on disk before EXEC: from here on the workflow cannot be lost.
                step("submitted")
            workflow_id = entry.id
            status = self.status(workflow_id)
            if status.get("state") == "EXPIRED" and status.get("started_at") is None:
                # It never ran (10.1): start again with a new key.
                step("finished", "EXPIRED")
                entry = Entry(key=new_key("run"), file=entry.file, spec=entry.spec)
                continue
            if status.get("state") in ("SUBMITTED", "STOPPED"):
                status = self.exec(workflow_id)
                step("exec")
            if not is_settled(status.get("state")):
                status = self.wait(workflow_id, entry.seen_seq, on_event=self._seen_recorder(entry, j, on_event))
            if is_final(status.get("state")):
                step("finished", status.get("state"))
            # else STOPPED: left unfinished, so that a later resume sends EXEC again.
            return status
        step("finished", "EXPIRED")
        return status


def check_reply(command: str, name: str, reply: Dict[str, Any]) -> Dict[str, Any]:
    """The reply body when ``name`` is the reply ``command`` expects; else raises the
    ERROR's exception or ``ProtocolError``."""
    if name == "ERROR":
        raise error_from_reply(reply)
    expected = EXPECTED_REPLY.get(command)
    if expected is not None and name != expected:
        raise ProtocolError(f"{command} got a {name} reply, expected {expected}")
    return reply


def start_entry(spec: Union[Spec, PathLike], journal: Optional[PathLike], idempotency_key: Optional[str],
                file: Optional[str]) -> Tuple[Entry, Optional[Journal]]:
    """The journal entry ``run`` completes: an unfinished one with the same spec when the
    journal has one (re-attach after a crash), else a new one (new key unless given)."""
    spec_dict, file_name = load_spec(spec, file)
    j = Journal(journal) if journal is not None else None
    if j is not None:
        for pending in j.unfinished():
            if same_spec(pending.spec, spec_dict):
                return pending, j
    key = new_key("run") if idempotency_key is None else idempotency_key
    return Entry(key=key, file=file_name, spec=spec_dict), j
