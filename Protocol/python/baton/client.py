"""A Baton client (BATON/1, spec section 4) with Lazy Pirate retries (section 10.4).

    from baton import Client
    with Client("tcp://127.0.0.1:5555") as c:
        final = c.run({"name": "hello", "blocks": [{"jobs": [{"type": "echo"}]}]},
                      journal=".baton/journal.jsonl")
        print(final["state"])

Every request is bounded by ``timeout_ms``; when no reply comes, the socket is closed
(linger 0) and the request is sent again on a fresh socket, up to ``retries`` tries in
all, and then ``Timeout`` is raised. That is safe because every request is idempotent:
SUBMIT always carries an ``idempotency_key`` (one is generated when the caller gives
none). A client object is safe to share between threads (requests are serialized).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import zmq

from . import transport
from .errors import ProtocolError, Timeout, error_from_reply
from .journal import Entry, Journal
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

Spec = Dict[str, Any]
Status = Dict[str, Any]
Event = Dict[str, Any]


@dataclass(frozen=True)
class Submitted:
    """The ID reply to SUBMIT, with the idempotency key that was sent."""

    id: str
    state: str
    duplicate: bool
    idempotency_key: str



class Client:
    """A BATON/1 client.

    ``socket_type`` is ``"dealer"`` (the default) or ``"req"``. ``retries`` is the number
    of tries per request (like ``baton --retries``), each waiting ``timeout_ms``.

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
        timeout_ms: int = 5000,
        retries: int = 3,
        socket_type: str = "dealer",
        curve_server_key: Union[str, bytes, None] = None,
        curve_public_key: Union[str, bytes, None] = None,
        curve_secret_key: Union[str, bytes, None] = None,
        curve_server: transport.PathOrKey = None,
        curve_secret: transport.PathOrKey = None,
        context: Optional[zmq.Context] = None,
    ):
        if socket_type not in ("dealer", "req"):
            raise ValueError("socket_type must be 'dealer' or 'req'")
        self.endpoint = endpoint
        self.timeout_ms = int(timeout_ms)
        self.retries = max(1, int(retries))
        self.socket_type = socket_type
        self._curve = transport.curve_keys(curve_server_key, curve_public_key, curve_secret_key,
                                           curve_server=curve_server, curve_secret=curve_secret)
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._socket: Optional[zmq.Socket] = None
        self._lock = threading.RLock()
        self._tag_prefix = "py" + secrets.token_hex(4)
        self._counter = 0

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        with self._lock:
            self._drop_socket()
            if self._own_context and self._context is not None:
                self._context.term()
                self._context = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _drop_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def _new_socket(self) -> zmq.Socket:
        if self._context is None:
            raise RuntimeError("client is closed")
        kind = zmq.DEALER if self.socket_type == "dealer" else zmq.REQ
        return transport.connect(self._context, kind, self.endpoint, self._curve)

    # ------------------------------------------------------------ requests

    def request(self, command: str, body: Optional[Dict[str, Any]] = None, *, timeout_ms: Optional[int] = None) -> Dict[str, Any]:
        """Send one request and return the body of its expected reply.

        Raises the ``BatonError`` subclass for an ERROR reply, ``ProtocolError`` for a
        reply of the wrong kind, ``Timeout`` after every try went unanswered."""
        name, reply = self.exchange(command, body or {}, timeout_ms=timeout_ms)
        if name == "ERROR":
            raise error_from_reply(reply)
        expected = EXPECTED_REPLY.get(command)
        if expected is not None and name != expected:
            raise ProtocolError(f"{command} got a {name} reply, expected {expected}")
        return reply

    def exchange(self, command: str, body: Dict[str, Any], *, timeout_ms: Optional[int] = None):
        """One request, Lazy Pirate style; returns (reply name, reply body) whatever the
        reply is (ERROR included)."""
        timeout = self.timeout_ms if timeout_ms is None else int(timeout_ms)
        with self._lock:
            for _ in range(self.retries):
                if self._socket is None:
                    self._socket = self._new_socket()
                sock = self._socket
                self._counter += 1
                tag = f"{self._tag_prefix}-{self._counter}".encode("ascii")
                frames = client_request(command, tag, body)
                if self.socket_type == "req":
                    frames = frames[1:]
                deadline = time.monotonic() + timeout / 1000.0
                try:
                    sock.send_multipart(frames, flags=zmq.NOBLOCK)
                except zmq.Again:
                    self._drop_socket()
                    time.sleep(min(timeout / 1000.0, 0.1))
                    continue
                while True:
                    remaining = int((deadline - time.monotonic()) * 1000)
                    if remaining <= 0 or not sock.poll(remaining, zmq.POLLIN):
                        break
                    raw = sock.recv_multipart()
                    try:
                        name, reply_tag, reply = parse_client_reply(raw, with_delimiter=self.socket_type == "dealer")
                    except WireError as e:
                        self._drop_socket()
                        raise ProtocolError(str(e)) from None
                    if reply_tag != tag:
                        continue  # a late reply to an earlier request: not ours
                    return name, reply
                # No reply in time: a fresh socket for the next try (a REQ socket must be
                # recreated anyway; a fresh DEALER cannot receive stale replies).
                self._drop_socket()
            raise Timeout(f"no reply to {command} from {self.endpoint} after {self.retries} tries of {timeout} ms")

    # ------------------------------------------------------------ commands

    def ping(self) -> Dict[str, Any]:
        """PING -> PONG body ``{"time"}`` (the broker's clock)."""
        return self.request("PING", {})

    def submit(self, workflow: Spec, idempotency_key: Optional[str] = None) -> Submitted:
        """SUBMIT: stores the workflow (state SUBMITTED). Nothing runs until ``exec``."""
        key = new_key("py") if idempotency_key is None else idempotency_key
        reply = self.request("SUBMIT", {"workflow": workflow, "idempotency_key": key})
        if not isinstance(reply.get("id"), str) or not isinstance(reply.get("state"), str):
            raise ProtocolError(f"ID reply without id or state: {reply!r}")
        return Submitted(reply["id"], reply["state"], bool(reply.get("duplicate", False)), key)

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
        return self.request("STATUS", body)

    def cancel(self, workflow_id: str) -> Status:
        """CANCEL a SUBMITTED, RUNNING or STOPPED workflow; a final one is returned unchanged.
        Returns the whole STATUS, like ``exec``."""
        return self._whole_status(self.request("CANCEL", {"id": workflow_id}))

    def _whole_status(self, first: Status) -> Status:
        """Follows ``jobs_next`` from the first page, appending each page's jobs to their
        blocks; the result has no ``jobs_next``."""
        whole = dict(first)
        blocks = [dict(b, jobs=list(b.get("jobs", []))) for b in whole.get("blocks", [])]
        done = 0
        nxt = whole.pop("jobs_next", None)
        while nxt is not None:
            if not isinstance(nxt, int) or isinstance(nxt, bool) or nxt <= done:
                raise ProtocolError(f"STATUS jobs_next {nxt!r} does not move past {done}")
            done = nxt
            page = self.status_page(whole["id"], jobs_from=nxt)
            if len(page.get("blocks", [])) != len(blocks):
                raise ProtocolError(f"STATUS page from job {nxt} does not match the first page's blocks")
            nxt = page.pop("jobs_next", None)
            for mine, theirs in zip(blocks, page["blocks"]):
                mine["state"] = theirs.get("state", mine.get("state"))
                mine["jobs"].extend(theirs.get("jobs", []))
            # The workflow fields of the latest read, like the Swift SDK.
            whole.update({k: v for k, v in page.items() if k != "blocks"})
            for k in [k for k in whole if k not in page and k != "blocks"]:
                del whole[k]
        whole["blocks"] = blocks
        return whole

    # ------------------------------------------------------------ emergency stop (4.3.8)

    def stop(self, name: str, reason: str) -> int:
        """STOP: the emergency stop of workflow ``name`` (``"*"``: every name). Its RUNNING
        workflows become STOPPED at once (their running attempts are cancelled and do not
        count toward ``max_attempts``); SUBMIT and EXEC of the name raise ``Stopped`` until
        ``go``. Stored by the broker, so it survives restarts. Returns how many workflows it
        moved to STOPPED (0 when resent: STOP is idempotent). An admin command: a client
        key gets ``Forbidden``."""
        reply = self.request("STOP", stop_body(name, reason))
        stopped = reply.get("stopped")
        if not isinstance(stopped, int) or isinstance(stopped, bool):
            raise ProtocolError(f"OK reply to STOP without a stopped count: {reply!r}")
        return stopped

    def limits(self) -> Dict[str, Any]:
        """LIMITS (``baton limits``): the rate limits and emergency stops in force, with
        their live levels and what waits on them (spec section 4.3.9). Admin keys only
        (``Forbidden`` for a client key)."""
        return self.request("LIMITS", {})

    def go(self, name: str) -> None:
        """RESUME (``baton go``): lifts exactly the stop of ``name`` (``"*"`` lifts only the
        stop of every name, not stops of single names). Starts nothing: ``exec`` (or the
        journaled ``resume``) continues each STOPPED workflow; SUCCEEDED jobs never run again.
        Admin keys only (``Forbidden`` for a client key).

        Named after the CLI's ``baton go`` because ``resume`` is the journal's."""
        self.request("RESUME", resume_body(name))

    def list(self, state: Optional[str] = None, name: Optional[str] = None, limit: Optional[int] = None,
             before: Optional[str] = None, owner: Optional[str] = None) -> Dict[str, Any]:
        """LIST: one page ``{"workflows": [...], "next"?}``, newest first. Each summary
        carries ``owner`` (the submitting key's name) on a broker with keys. ``owner``
        filters by it for admin keys; a client key always sees only its own workflows
        (spec section 3.6)."""
        body: Dict[str, Any] = {}
        for k, v in (("state", state), ("name", name), ("limit", limit), ("before", before), ("owner", owner)):
            if v is not None:
                body[k] = v
        return self.request("LIST", body)

    def list_all(self, state: Optional[str] = None, name: Optional[str] = None, page_size: int = 200,
                 owner: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every matching workflow summary, newest first, following ``next``."""
        before = None
        while True:
            page = self.list(state=state, name=name, limit=page_size, before=before, owner=owner)
            yield from page.get("workflows", [])
            before = page.get("next")
            if not before:
                return

    def watch_page(self, workflow_id: str, after: int = 0, wait_ms: int = 0) -> Dict[str, Any]:
        """One WATCH: ``{"id", "events", "state"}``; long-polls up to ``wait_ms``."""
        return self.request("WATCH", {"id": workflow_id, "after": after, "wait_ms": wait_ms},
                            timeout_ms=wait_ms + self.timeout_ms)

    def watch(self, workflow_id: str, after: int = 0, *, wait_ms: int = 10000, follow: bool = True) -> Iterator[Event]:
        """The workflow's events with ``seq > after``, in order.

        With ``follow`` (the default) it long-polls until the workflow is settled (final,
        or STOPPED by an emergency stop: see ``is_settled``) and every event has been read;
        otherwise it stops at the last stored event. To resume after a crash, pass the last
        ``seq`` seen as ``after``."""
        state = None
        while True:
            # A long-poll on a STOPPED workflow waits like on a RUNNING one (4.3.8): once it
            # is seen STOPPED, only read what is stored.
            long_poll = follow and state != "STOPPED"
            page = self.watch_page(workflow_id, after, wait_ms if long_poll else 0)
            events = page.get("events") or []
            state = page.get("state")
            for event in events:
                seq = event.get("seq")
                if isinstance(seq, int) and seq > after:
                    after = seq
                yield event
            if not events and (not follow or is_settled(state)):
                return

    def wait(self, workflow_id: str, after: int = 0, *, on_event: Optional[Callable[[Event], None]] = None,
             wait_ms: int = 10000) -> Status:
        """Follow the workflow until it is final or STOPPED; return that STATUS."""
        for event in self.watch(workflow_id, after, wait_ms=wait_ms):
            if on_event is not None:
                on_event(event)
        return self.status(workflow_id)

    # ------------------------------------------------------------ the handshake (10.1)

    def run(self, spec: Union[Spec, str, "os.PathLike[str]"], journal: Union[str, "os.PathLike[str]", None] = None, *,
            idempotency_key: Optional[str] = None, file: Optional[str] = None,
            on_event: Optional[Callable[[Event], None]] = None) -> Status:
        """SUBMIT, journal the id, EXEC, follow to the end; return the final STATUS.

        ``spec`` is a workflow dict or the path of a workflow JSON file. With a
        ``journal`` (the Swift CLI's format), every step is journaled and fsynced first,
        and an unfinished entry with the same spec is re-attached to instead of
        submitting again, like ``baton run``.

        When an emergency stop parks the workflow, this returns its STOPPED STATUS and
        does not journal it as finished: after ``go``, ``resume`` (or ``run`` with the same
        spec and journal) sends EXEC and it continues. ``Stopped`` is raised when SUBMIT or
        EXEC meets a stop in force."""
        if not isinstance(spec, dict):
            file = file or os.fspath(spec)
            with open(spec, "rb") as f:
                spec = json.loads(f.read().decode("utf-8"))
        file = file or "<python>"
        j = Journal(journal) if journal is not None else None
        if j is not None:
            for pending in j.unfinished():
                if same_spec(pending.spec, spec):
                    return self._complete(pending, j, on_event)
        entry = Entry(key=new_key("run") if idempotency_key is None else idempotency_key, file=file, spec=spec)
        return self._complete(entry, j, on_event)

    def resume(self, journal: Union[str, "os.PathLike[str]"], *,
               on_event: Optional[Callable[[Event], None]] = None) -> List[Status]:
        """Complete every unfinished journal entry (like ``baton resume``): no id yet ->
        SUBMIT again with the same key and spec; SUBMITTED or STOPPED -> EXEC (which
        continues a STOPPED one, or raises ``Stopped`` while its stop is in force);
        RUNNING -> follow; final -> report. Returns the STATUS each ended in (final, or
        STOPPED and left unfinished in the journal), in journal order."""
        j = Journal(journal)
        return [self._complete(entry, j, on_event) for entry in j.unfinished()]

    def _complete(self, entry: Entry, j: Optional[Journal], on_event) -> Status:
        def log(step: str, state: Optional[str] = None) -> None:
            if j is not None:
                j.append(entry, step, state)

        for _ in range(3):
            if entry.id is None:
                # Journaled before SUBMIT: after a crash, the same key gets the same id.
                log("submitting")
                entry.id = self.submit(entry.spec, entry.key).id
                # The id is on disk before EXEC: from here on the workflow cannot be lost.
                log("submitted")
            status = self.status(entry.id)
            if status.get("state") == "EXPIRED" and status.get("started_at") is None:
                # It never ran (10.1): start again with a new key.
                log("finished", "EXPIRED")
                entry = Entry(key=new_key("run"), file=entry.file, spec=entry.spec)
                continue
            if status.get("state") in ("SUBMITTED", "STOPPED"):
                status = self.exec(entry.id)
                log("exec")
            if not is_settled(status.get("state")):
                status = self.wait(entry.id, on_event=on_event)
            if is_final(status.get("state")):
                log("finished", status.get("state"))
            # else STOPPED: left unfinished, so that a later resume sends EXEC again.
            return status
        log("finished", "EXPIRED")
        return status
