"""baton.aio.Client, the asyncio client, against the real broker: every command, the
journaled handshake, errors, and requests from several tasks at once."""

import asyncio
import time

import pytest

from baton import Journal, NotFound, Timeout
from baton import aio
from helpers import job, workflow


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_aio_client_speaks_every_command(broker, swift_worker, tmp_path):
    swift_worker(broker, types="echo")
    spec = workflow([job("echo", {"message": "from asyncio"})], name="aio-run")
    seen = []

    async def main():
        async with aio.Client(broker.client_endpoint, timeout=3.0) as c:
            assert (await c.ping())["time"]
            final = await c.run(spec, journal=tmp_path / "journal.jsonl", on_event=seen.append)
            again = await c.status(final["id"])
            events = [e async for e in c.watch(final["id"], follow=False)]
            page = await c.list(name="aio-run")
            every = [w async for w in c.list_all(name="aio-run", page_size=1)]
            sub = await c.submit(workflow([job("echo")], name="aio-cancel"))
            same = await c.submit(workflow([job("echo")], name="aio-cancel"), sub.idempotency_key)
            cancelled = await c.cancel(sub.id)
            with pytest.raises(NotFound):
                await c.status("no-such-workflow")
            return final, again, events, page, every, sub, same, cancelled

    final, again, events, page, every, sub, same, cancelled = run(main())
    assert final["state"] == "SUCCEEDED"
    assert final["blocks"][0]["jobs"][0]["output"] == again["blocks"][0]["jobs"][0]["output"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)) and events[-1]["kind"] == "workflow.succeeded"
    assert [e["seq"] for e in seen] == [e["seq"] for e in events]
    assert [w["id"] for w in page["workflows"]] == [final["id"]] == [w["id"] for w in every]
    assert same.duplicate and same.id == sub.id
    assert cancelled["state"] == "CANCELLED"
    assert Journal(tmp_path / "journal.jsonl").unfinished() == []


def test_aio_cancel_is_not_held_up_by_a_watch_in_another_task(broker):
    async def main():
        async with aio.Client(broker.client_endpoint, timeout=3.0) as c:
            s = await c.submit(workflow([job("py.nobody-serves-this")]))
            await c.exec(s.id)
            last = (await c.watch_page(s.id, 0))["events"][-1]["seq"]
            watch = asyncio.ensure_future(c.watch_page(s.id, last, wait=5.0))
            await asyncio.sleep(0.3)
            t = time.monotonic()
            st = await c.cancel(s.id)
            took = time.monotonic() - t
            page = await watch
            return st, took, page

    st, took, page = run(main())
    assert st["state"] == "CANCELLED" and took < 2.5
    assert page["events"]


def test_aio_timeout_is_a_builtin_timeouterror():
    """No broker on the port: Timeout (a TimeoutError) after the tries."""
    from conftest import free_port

    async def main():
        async with aio.Client(f"tcp://127.0.0.1:{free_port()}", timeout=0.1, retries=2) as c:
            t = time.monotonic()
            with pytest.raises(TimeoutError) as e:
                await c.ping()
            return e.value, time.monotonic() - t

    err, took = run(main())
    assert isinstance(err, Timeout) and 0.15 <= took < 2
