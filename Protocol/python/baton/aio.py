"""An asyncio Baton client: ``baton.aio.Client``, the twin of ``baton.Client``.

    import asyncio
    from baton.aio import Client

    async def main():
        async with Client("tcp://127.0.0.1:5555") as c:
            final = await c.run(spec, journal=".baton/journal.jsonl")
            async for event in c.watch(final["id"], follow=False):
                print(event["seq"], event["kind"])

    asyncio.run(main())

Built on ``zmq.asyncio``: nothing blocks the event loop (journal writes, which fsync,
run in a thread). The same methods, arguments, replies, errors and Lazy Pirate retries
as ``baton.Client``, with ``await`` (``watch`` and ``list_all`` are async iterators).
Any number of coroutines may share one client: each request takes a socket of its own
for as long as it waits, so a ``cancel()`` is not held up by another task's WATCH
long-poll. Cancelling a task that awaits a request closes that request's socket.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Tuple, Union, cast

import zmq
import zmq.asyncio

from . import _log, transport
from ._units import seconds, to_ms
from .client import (
    DEFAULT_CLIENT_ENDPOINT,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WATCH_WAIT_S,
    MAX_IDLE_SOCKETS,
    OnEvent,
    PathLike,
    Spec,
    StatusPages,
    Submitted,
    WatchCursor,
    check_reply,
    list_body,
    start_entry,
    stopped_count,
)
from .errors import ProtocolError, Timeout
from .journal import Entry, Journal
from .types import Event, Events, Limits, ListPage, Pong, Status, WorkflowSummary
from .wire import WireError, client_request, is_final, is_settled, new_key, parse_client_reply, resume_body, stop_body

__all__ = ["Client"]

log = _log.get("aio")

Reply = Tuple[str, Dict[str, Any]]


class Client:
    """A BATON/1 client for asyncio. Arguments as for ``baton.Client`` (``timeout`` in
    seconds per try, ``retries`` tries, ``socket_type``, the CURVE keys), plus an
    optional ``zmq.asyncio.Context``. Use it from one event loop."""

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
        context: Optional[zmq.asyncio.Context] = None,
        timeout_ms: Optional[int] = None,
    ):
        if socket_type not in ("dealer", "req"):
            raise ValueError("socket_type must be 'dealer' or 'req'")
        self.endpoint = endpoint
        self.timeout = seconds(timeout, timeout_ms, "timeout", "timeout_ms", DEFAULT_TIMEOUT_S) or 0.0
        self.retries = max(1, int(retries))
        self.socket_type = socket_type
        self._curve = transport.curve_keys(curve_server_key, curve_public_key, curve_secret_key,
                                           curve_server=curve_server, curve_secret=curve_secret)
        self._own_context = context is None
        self._context: Optional[zmq.asyncio.Context] = context or zmq.asyncio.Context()
        self._idle: List[zmq.asyncio.Socket] = []
        self._tag_prefix = "pa" + new_key("")[-8:]
        self._counter = 0

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close every socket (requests still waiting fail) and the context this client
        made."""
        for sock in self._idle:
            sock.close(linger=0)
        self._idle.clear()
        context, self._context = self._context, None
        if self._own_context and context is not None:
            context.destroy(linger=0)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _checkout(self) -> Tuple[zmq.asyncio.Socket, bytes]:
        if self._context is None:
            raise RuntimeError("client is closed")
        self._counter += 1
        tag = f"{self._tag_prefix}-{self._counter}".encode("ascii")
        if self._idle:
            return self._idle.pop(), tag
        kind = zmq.DEALER if self.socket_type == "dealer" else zmq.REQ
        sock = transport.connect(cast("zmq.Context[zmq.Socket[bytes]]", self._context), kind, self.endpoint, self._curve)
        return cast(zmq.asyncio.Socket, sock), tag

    def _checkin(self, sock: zmq.asyncio.Socket) -> None:
        if self._context is not None and len(self._idle) < MAX_IDLE_SOCKETS:
            self._idle.append(sock)
        else:
            sock.close(linger=0)

    # ------------------------------------------------------------ requests

    async def request(self, command: str, body: Optional[Dict[str, Any]] = None, *,
                      timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send one request and return the body of its expected reply (errors as for
        ``baton.Client.request``)."""
        name, reply = await self.exchange(command, body or {}, timeout=timeout)
        return check_reply(command, name, reply)

    async def exchange(self, command: str, body: Dict[str, Any], *, timeout: Optional[float] = None) -> Reply:
        """One request, Lazy Pirate style: (reply name, reply body), ERROR included."""
        wait = self.timeout if timeout is None else float(timeout)
        for attempt in range(1, self.retries + 1):
            sock, tag = self._checkout()
            try:
                reply = await self._try_once(sock, tag, command, body, wait)
            except BaseException:
                sock.close(linger=0)  # cancelled or broken: a reply may still come
                raise
            if reply is not None:
                self._checkin(sock)
                return reply
            sock.close(linger=0)
            log.info("no reply to %s from %s within %.3g s (try %d of %d)", command, self.endpoint, wait,
                     attempt, self.retries)
        raise Timeout(f"no reply to {command} from {self.endpoint} after {self.retries} tries of {to_ms(wait)} ms")

    async def _try_once(self, sock: zmq.asyncio.Socket, tag: bytes, command: str, body: Dict[str, Any],
                        wait: float) -> Optional[Reply]:
        frames = client_request(command, tag, body)
        if self.socket_type == "req":
            frames = frames[1:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        try:
            await asyncio.wait_for(sock.send_multipart(frames), wait)
        except asyncio.TimeoutError:
            return None
        while True:
            remaining = int((deadline - loop.time()) * 1000)
            if remaining <= 0 or not await sock.poll(remaining):  # POLLIN
                return None
            raw = await sock.recv_multipart()
            try:
                name, reply_tag, reply = parse_client_reply(raw, with_delimiter=self.socket_type == "dealer")
            except WireError as e:
                raise ProtocolError(str(e)) from None
            if reply_tag == tag:
                return name, reply

    # ------------------------------------------------------------ commands

    async def ping(self) -> Pong:
        return cast(Pong, await self.request("PING", {}))

    async def submit(self, workflow: Spec, idempotency_key: Optional[str] = None) -> Submitted:
        key = new_key("py") if idempotency_key is None else idempotency_key
        reply = await self.request("SUBMIT", {"workflow": workflow, "idempotency_key": key})
        return Submitted.from_reply(reply, key)

    async def exec(self, workflow_id: str) -> Status:
        return await self._whole_status(await self.request("EXEC", {"id": workflow_id}))

    async def status(self, workflow_id: str) -> Status:
        return await self._whole_status(await self.status_page(workflow_id))

    async def status_page(self, workflow_id: str, jobs_from: int = 0) -> Status:
        body: Dict[str, Any] = {"id": workflow_id}
        if jobs_from:
            body["jobs_from"] = jobs_from
        return cast(Status, await self.request("STATUS", body))

    async def cancel(self, workflow_id: str) -> Status:
        return await self._whole_status(await self.request("CANCEL", {"id": workflow_id}))

    async def _whole_status(self, first: Mapping[str, Any]) -> Status:
        pages = StatusPages(first)
        nxt = pages.next_from()
        while nxt is not None:
            pages.add(await self.status_page(pages.id, jobs_from=nxt))
            nxt = pages.next_from()
        return pages.result()

    async def stop(self, name: str, reason: str) -> int:
        return stopped_count(await self.request("STOP", stop_body(name, reason)))

    async def go(self, name: str) -> None:
        await self.request("RESUME", resume_body(name))

    async def limits(self) -> Limits:
        return cast(Limits, await self.request("LIMITS", {}))

    async def list(self, state: Optional[str] = None, name: Optional[str] = None, limit: Optional[int] = None,
                   before: Optional[str] = None, owner: Optional[str] = None) -> ListPage:
        return cast(ListPage, await self.request("LIST", list_body(state, name, limit, before, owner)))

    async def list_all(self, state: Optional[str] = None, name: Optional[str] = None, page_size: int = 200,
                       owner: Optional[str] = None) -> AsyncIterator[WorkflowSummary]:
        before = None
        while True:
            page = await self.list(state=state, name=name, limit=page_size, before=before, owner=owner)
            for summary in page.get("workflows", []):
                yield summary
            before = page.get("next")
            if not before:
                return

    async def watch_page(self, workflow_id: str, after: int = 0, *, wait: float = 0.0) -> Events:
        body = {"id": workflow_id, "after": after, "wait_ms": to_ms(wait)}
        return cast(Events, await self.request("WATCH", body, timeout=wait + self.timeout))

    async def watch(self, workflow_id: str, after: int = 0, *, wait: float = DEFAULT_WATCH_WAIT_S,
                    follow: bool = True) -> AsyncIterator[Event]:
        cursor = WatchCursor(after, follow)
        while not cursor.done:
            page = await self.watch_page(workflow_id, cursor.after, wait=wait if cursor.long_poll() else 0.0)
            for event in cursor.take(cast(Dict[str, Any], page)):
                yield event

    async def wait(self, workflow_id: str, after: int = 0, *, on_event: OnEvent = None,
                   wait: float = DEFAULT_WATCH_WAIT_S) -> Status:
        async for event in self.watch(workflow_id, after, wait=wait):
            if on_event is not None:
                on_event(event)
        return await self.status(workflow_id)

    # ------------------------------------------------------------ the handshake (10.1)

    async def run(self, spec: Union[Spec, PathLike], journal: Optional[PathLike] = None, *,
                  idempotency_key: Optional[str] = None, file: Optional[str] = None,
                  on_event: OnEvent = None) -> Status:
        """As ``baton.Client.run``: SUBMIT, journal the id, EXEC, follow to the end."""
        entry, j = await asyncio.to_thread(start_entry, spec, journal, idempotency_key, file)
        return await self._complete(entry, j, on_event)

    async def resume(self, journal: PathLike, *, on_event: OnEvent = None) -> List[Status]:
        """As ``baton.Client.resume``: complete every unfinished journal entry."""
        j = Journal(journal)
        return [await self._complete(entry, j, on_event) for entry in await asyncio.to_thread(j.unfinished)]

    async def _complete(self, entry: Entry, j: Optional[Journal], on_event: OnEvent) -> Status:
        async def step(name: str, state: Optional[str] = None) -> None:
            if j is not None:
                await asyncio.to_thread(j.append, entry, name, state)

        for _ in range(3):
            if entry.id is None:
                await step("submitting")
                entry.id = (await self.submit(entry.spec, entry.key)).id
                await step("submitted")
            workflow_id = entry.id
            status = await self.status(workflow_id)
            if status.get("state") == "EXPIRED" and status.get("started_at") is None:
                await step("finished", "EXPIRED")
                entry = Entry(key=new_key("run"), file=entry.file, spec=entry.spec)
                continue
            if status.get("state") in ("SUBMITTED", "STOPPED"):
                status = await self.exec(workflow_id)
                await step("exec")
            if not is_settled(status.get("state")):
                status = await self.wait(workflow_id, on_event=on_event)
            if is_final(status.get("state")):
                await step("finished", status.get("state"))
            return status
        await step("finished", "EXPIRED")
        return status
