"""CURVE, keys and roles (spec sections 3.5, 3.6): a broker started with --curve-secret and
the three --*-allow directories, over real CURVE on 127.0.0.1. Keys made by pyzmq
(`zmq.auth.create_certificates`) and by `baton keygen` are interchangeable; only listed
keys get in, each on its own endpoint; workflows have owners; client keys see only their
own and may not STOP, RESUME or LIMITS; SIGHUP re-reads the allowlists."""

import os
import stat

import pytest
import zmq
import zmq.auth

import baton
from baton import Client, Conflict, Forbidden, NotFound, Timeout, Worker
from helpers import RawClient, RawWorker, job, wait_until, workflow

NOBODY = "nobody.declares.this"  # a job type no worker serves: its workflow stays RUNNING


def quick(broker, key=None, **kw):
    """A client that gives up fast: for requests that must go unanswered."""
    kw.setdefault("timeout", 0.3)
    kw.setdefault("retries", 1)
    return broker.client(key, **kw)


def refused_in_log(broker, keys, name):
    """Spec 3.5: the broker logs the key it refused (by its name when an allowlist holds
    it for another role, else by its Z85 key)."""
    public = zmq.auth.load_certificate(str(keys.public(name)))[0].decode()
    wait_until(lambda: any(line.find("refused") >= 0 and (public in line or f'"{name}"' in line)
                           for line in broker.log_text().splitlines()), 5, message=f"{name}'s refusal in the broker log")


# ------------------------------------------------------------------ certificates


def test_pyzmq_certificates_work_unchanged(keys, broker_factory, py_worker, swift_worker):
    """Every key, the broker's own included, made by zmq.auth.create_certificates; the
    allowlists hold pyzmq's .key files. A client runs a workflow served by a Python
    worker and a `baton worker`, each with its own worker key."""
    keys.make("alice", "clients")
    keys.make("py-worker", "workers")
    keys.make("swift-worker", "workers")
    b = broker_factory(keys=keys)
    py_worker(b, {"py.double": lambda j: {"twice": 2 * j.args["x"]}}, name="py-curve", key="py-worker")
    swift_worker(b, types="echo", name="swift-curve", key="swift-worker")
    with b.client("alice", timeout=5.0) as c:
        final = c.run(workflow([job("echo", {"x": 1})], [job("py.double", {"x": 21})], name="curve-run"))
        assert final["state"] == "SUCCEEDED", final
        assert final["blocks"][1]["jobs"][0]["output"] == {"twice": 42}
        assert final["owner"] == "alice"


def test_baton_keygen_certificates_load_in_pyzmq(keys_factory, broker_factory, baton_bin, tmp_path):
    keys = keys_factory(broker_tool="baton")
    secret_path = keys.make("carol", "clients", tool="baton")
    public_path = keys.public("carol")
    assert stat.S_IMODE(os.stat(secret_path).st_mode) == 0o600

    public, secret = zmq.auth.load_certificate(str(secret_path))
    assert zmq.curve_public(secret) == public
    assert zmq.auth.load_certificate(str(public_path)) == (public, None)
    # pyzmq's allowlist reader (what zmq.auth's authenticators use) takes baton's .key files.
    assert zmq.auth.load_certificates(str(keys.allow["clients"])) == {public: True}
    assert baton.load_certificate(secret_path) == (public, secret)
    assert baton.load_certificate(str(public_path)) == (public, None)

    # And they work: a broker whose own key is baton's, a client with baton's key.
    b = broker_factory(keys=keys)
    with b.client("carol") as c:
        s = c.submit(workflow([job("echo")], name="keygen"))
        assert c.status(s.id)["owner"] == "carol"


def test_old_z85_parameters_and_z85_server_key(keys, broker_factory):
    """curve_server_key/curve_public_key/curve_secret_key (Z85) still work, and
    curve_server takes the broker's Z85 key as well as its certificate file."""
    keys.make("dave", "clients")
    b = broker_factory(keys=keys)
    server, public, secret = keys.curve("dave")
    with Client(b.client_endpoint, curve_server_key=server, curve_public_key=public, curve_secret_key=secret,
                timeout=3.0) as c:
        assert c.ping()["time"]
    with Client(b.client_endpoint, curve_server=server.decode(), curve_secret_key=secret.decode(), timeout=3.0) as c:
        assert c.submit(workflow([job("echo")], name="z85")).state == "SUBMITTED"
        assert c.list()["workflows"][0]["owner"] == "dave"


# ------------------------------------------------------------------ who gets in where


def test_unlisted_plain_and_wrong_server_keys_get_no_reply(keys, broker_factory):
    keys.make("alice", "clients")
    keys.make("mallory")  # made, never listed
    b = broker_factory(keys=keys)
    with quick(b, "alice", timeout=3.0) as c:
        assert c.ping()["time"]  # the control: a listed key does get in
    with quick(b, "mallory") as c:
        with pytest.raises(Timeout):
            c.ping()
    refused_in_log(b, keys, "mallory")
    with quick(b) as plain:
        with pytest.raises(Timeout):
            plain.ping()
    other_server, _ = zmq.curve_keypair()
    with Client(b.client_endpoint, curve_server_key=other_server, curve_secret=str(keys.secret("alice")),
                timeout=0.3, retries=1) as wrong:
        with pytest.raises(Timeout):
            wrong.ping()


def test_each_role_only_on_its_endpoint(keys, broker_factory, py_worker):
    """Client and admin keys get nothing on the worker endpoint; worker keys get nothing
    on the client endpoint."""
    keys.make("alice", "clients")
    keys.make("root", "admins")
    keys.make("w1", "workers")
    b = broker_factory(keys=keys)

    listed = RawWorker(b.worker_endpoint, curve=keys.curve("w1"))
    try:
        assert listed.ready(name="listed")["interval_ms"] > 0  # the control: a worker key registers
    finally:
        listed.close()
    for name in ("alice", "root", None):
        w = RawWorker(b.worker_endpoint, curve=keys.curve(name))
        try:
            w.send("READY", {"worker": f"as-{name}", "types": ["echo"], "capacity": 1})
            assert w.recv(0.5) is None, f"{name} key got a reply on the worker endpoint"
        finally:
            w.close()
    refused_in_log(b, keys, "alice")
    client_key_worker = py_worker(b, {"echo": lambda j: None}, name="client-key", key="alice", wait=False)
    assert not client_key_worker.wait_registered(1.0)

    with quick(b, "w1") as c:
        with pytest.raises(Timeout):
            c.ping()
    raw = RawClient(b.client_endpoint, curve=keys.curve("w1"))
    try:
        assert raw.request("PING", {}, timeout=0.5) is None
    finally:
        raw.close()


# ------------------------------------------------------------------ owners


def test_status_and_list_show_the_owner(keys, broker_factory, py_worker):
    keys.make("alice", "clients")
    keys.make("w1", "workers")
    b = broker_factory(keys=keys)
    py_worker(b, {"py.ok": lambda j: "ok"}, key="w1")
    with b.client("alice", timeout=5.0) as c:
        s = c.submit(workflow([job("py.ok")], name="owned"))
        assert c.status(s.id)["owner"] == "alice"
        final = c.run(workflow([job("py.ok")], name="owned-run"))
        assert (final["state"], final["owner"]) == ("SUCCEEDED", "alice")
        summaries = c.list()["workflows"]
        assert {w["name"]: w["owner"] for w in summaries} == {"owned": "alice", "owned-run": "alice"}
        assert [w["owner"] for w in c.list_all()] == ["alice", "alice"]


def test_plain_mode_has_no_owner(broker):
    with broker.client() as c:
        s = c.submit(workflow([job("echo")], name="plain"))
        assert "owner" not in c.status(s.id)
        assert "owner" not in c.list()["workflows"][0]


def test_client_keys_are_isolated_and_an_admin_sees_both(keys, broker_factory):
    keys.make("alice", "clients")
    keys.make("bob", "clients")
    keys.make("root", "admins")
    b = broker_factory(keys=keys)
    with b.client("alice") as alice, b.client("bob") as bob, b.client("root") as root:
        a1 = alice.submit(workflow([job(NOBODY)], name="alice-wf"), idempotency_key="alice-key-1").id
        b1 = bob.submit(workflow([job(NOBODY)], name="bob-wf")).id

        # Another owner's workflow is not found, exactly like an id that does not exist.
        for request in (bob.status, bob.exec, bob.cancel, lambda i: bob.watch_page(i)):
            with pytest.raises(NotFound) as seen:
                request(a1)
            with pytest.raises(NotFound) as missing:
                request("01NOSUCHWORKFLOW0000000000")
            assert seen.value.code == missing.value.code == "not_found"
        assert alice.status(a1)["state"] == "SUBMITTED"  # bob's EXEC and CANCEL changed nothing

        # LIST shows a client key its own workflows only; its owner filter is ignored.
        assert [w["id"] for w in bob.list()["workflows"]] == [b1]
        assert [w["id"] for w in bob.list(owner="alice")["workflows"]] == [b1]
        assert [w["id"] for w in alice.list()["workflows"]] == [a1]

        # An idempotency key is global: bob reusing alice's gets conflict, not her id.
        with pytest.raises(Conflict) as conflict:
            bob.submit(workflow([job(NOBODY)], name="alice-wf"), idempotency_key="alice-key-1")
        assert a1 not in str(conflict.value) and "id" not in conflict.value.details

        # An admin key sees and may act on every workflow.
        listed = {w["id"]: w["owner"] for w in root.list()["workflows"]}
        assert listed == {a1: "alice", b1: "bob"}
        assert [w["id"] for w in root.list(owner="alice")["workflows"]] == [a1]
        assert root.status(b1)["owner"] == "bob"
        assert root.exec(a1)["state"] == "RUNNING"
        assert root.cancel(a1)["state"] == "CANCELLED"
        assert alice.status(a1)["state"] == "CANCELLED"


def test_client_key_stop_resume_limits_are_forbidden_admin_may(keys, broker_factory):
    keys.make("alice", "clients")
    keys.make("root", "admins")
    b = broker_factory(keys=keys)
    with b.client("alice") as alice, b.client("root") as root:
        wf = alice.submit(workflow([job(NOBODY)], name="nightly")).id
        assert alice.exec(wf)["state"] == "RUNNING"
        for request in (lambda: alice.stop("nightly", "disk errors"), lambda: alice.go("nightly"), alice.limits):
            with pytest.raises(Forbidden) as e:
                request()
            assert (e.value.code, e.value.retryable) == ("forbidden", False)
        assert alice.status(wf)["state"] == "RUNNING"  # the refused STOP stopped nothing

        assert root.stop("nightly", "disk errors") == 1
        assert alice.status(wf)["state"] == "STOPPED"
        assert "nightly" in str(root.limits())
        root.go("nightly")
        assert alice.exec(wf)["state"] == "RUNNING"  # the owner continues it after the stop is lifted


# ------------------------------------------------------------------ SIGHUP


def test_sighup_admits_an_added_key_and_refuses_a_removed_one(keys, broker_factory):
    keys.make("carol")
    b = broker_factory(keys=keys)
    with quick(b, "carol") as c:
        with pytest.raises(Timeout):
            c.ping()

    keys.allow_key("carol", "clients")
    b.hang_up()

    def carol_gets_in():
        with quick(b, "carol", timeout=0.5) as c:
            try:
                return c.ping()
            except Timeout:
                return None

    wait_until(carol_gets_in, 10, message="carol admitted after SIGHUP")

    with b.client("carol", retries=1) as open_connection:
        assert open_connection.ping()["time"]
        keys.deny_key("carol", "clients")
        b.hang_up()

        def refused_on_the_open_connection():
            try:
                open_connection.ping()
                return False
            except Forbidden:
                return True

        wait_until(refused_on_the_open_connection, 10, 0.05, "forbidden on carol's open connection after SIGHUP")
    with quick(b, "carol") as fresh:
        with pytest.raises(Timeout):
            fresh.ping()


def test_sighup_disconnects_a_removed_worker_key(keys, broker_factory):
    keys.make("w1", "workers")
    b = broker_factory(keys=keys)
    w = RawWorker(b.worker_endpoint, curve=keys.curve("w1"))
    try:
        w.ready(name="removed-later")
        keys.deny_key("w1", "workers")
        b.hang_up()

        def disconnected():
            w.send("HEARTBEAT", {})
            got = w.recv(0.1)
            return got is not None and got[0] == "DISCONNECT"

        wait_until(disconnected, 10, 0, "DISCONNECT for the removed worker key")
    finally:
        w.close()


# ------------------------------------------------------------------ SDK key arguments (no broker)


def test_sdk_key_arguments(keys, tmp_path):
    server_file, secret_file = str(keys.server), str(keys.secret("probe"))
    server, public, secret = keys.curve("probe")

    # Keys that cannot work are refused at once, saying why, instead of timing out later.
    with pytest.raises(ValueError, match="curve_secret"):
        Client("tcp://127.0.0.1:1", curve_server=server_file)
    with pytest.raises(ValueError, match="curve_secret"):
        Worker("tcp://127.0.0.1:1", curve_server_key=server)
    with pytest.raises(ValueError, match="no secret-key"):
        Client("tcp://127.0.0.1:1", curve_server=server_file, curve_secret=server_file)
    with pytest.raises(ValueError, match="once"):
        Client("tcp://127.0.0.1:1", curve_server=server_file, curve_server_key=server, curve_secret=secret_file)
    with pytest.raises(ValueError, match="once"):
        Client("tcp://127.0.0.1:1", curve_server=server_file, curve_secret=secret_file, curve_secret_key=secret)
    with pytest.raises(ValueError, match="broker's public key"):
        Client("tcp://127.0.0.1:1", curve_secret=secret_file)
    with pytest.raises(ValueError, match="neither a certificate file"):
        Client("tcp://127.0.0.1:1", curve_server=str(tmp_path / "missing.key"), curve_secret=secret_file)
    with pytest.raises(ValueError, match="does not belong"):
        Client("tcp://127.0.0.1:1", curve_server_key=server, curve_public_key=zmq.curve_keypair()[0],
               curve_secret_key=secret)
    with pytest.raises(OSError):
        Client("tcp://127.0.0.1:1", curve_server=server_file, curve_secret=str(tmp_path / "missing.key_secret"))

    # A file holding just a Z85 secret key (older `baton keygen --out`) is read too.
    bare = tmp_path / "old.secret"
    bare.write_bytes(secret + b"\n")
    assert baton.load_certificate(bare) == (public, secret)
    not_a_cert = tmp_path / "junk.key"
    not_a_cert.write_text("hello\n")
    with pytest.raises(ValueError, match="not a ZeroMQ certificate"):
        baton.load_certificate(not_a_cert)
    Client("tcp://127.0.0.1:1", curve_server=server_file, curve_secret=bare).close()
    Client("tcp://127.0.0.1:1").close()  # no keys: plain tcp
