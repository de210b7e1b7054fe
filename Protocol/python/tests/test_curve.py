"""CURVE: the broker with --curve-secret-key-file; CURVE clients and workers work, plain
peers get nothing."""

import pytest
import zmq

from baton import Client, Timeout, Worker
from helpers import RawWorker, job, workflow


@pytest.fixture
def curve_broker(broker_factory, baton_bin, tmp_path):
    import subprocess

    help_text = subprocess.run([baton_bin, "broker", "--help"], capture_output=True, text=True).stdout
    if "--curve-secret-key-file" not in help_text:
        pytest.fail("`baton broker` has no --curve-secret-key-file flag yet", pytrace=False)
    public, secret = zmq.curve_keypair()
    key_file = tmp_path / "broker.secret"
    key_file.write_bytes(secret + b"\n")
    key_file.chmod(0o600)
    return broker_factory(curve_secret_key_file=str(key_file), curve_public_key=public)


def test_curve_client_works_and_plain_client_gets_no_reply(curve_broker):
    with Client(curve_broker.client_endpoint, curve_server_key=curve_broker.curve_public_key, timeout_ms=2000) as c:
        assert c.ping()["time"]
        s = c.submit(workflow([job("echo")]))
        assert c.status(s.id)["state"] == "SUBMITTED"
    with Client(curve_broker.client_endpoint, timeout_ms=300, retries=2) as plain:
        with pytest.raises(Timeout):
            plain.ping()
    wrong_server_key, _ = zmq.curve_keypair()
    with Client(curve_broker.client_endpoint, curve_server_key=wrong_server_key, timeout_ms=300, retries=1) as wrong:
        with pytest.raises(Timeout):
            wrong.ping()


def test_curve_workers_python_and_swift(curve_broker, swift_worker):
    pub = curve_broker.curve_public_key
    plain = RawWorker(curve_broker.worker_endpoint)
    try:
        plain.send("READY", {"worker": "plain", "types": ["echo"], "capacity": 1})
        assert plain.recv(0.3) is None  # no HEARTBEAT for a peer without CURVE
    finally:
        plain.close()
    swift_worker(curve_broker, types="echo", name="swift-curve", curve_server_key=pub)
    w = Worker(curve_broker.worker_endpoint, name="py-curve", curve_server_key=pub)
    w.register("py.secret", lambda job: {"seen": job.args["x"]})
    w.start()
    try:
        assert w.wait_registered(5)
        with Client(curve_broker.client_endpoint, curve_server_key=pub, timeout_ms=2000) as c:
            final = c.run(workflow([job("echo", {"x": 1})], [job("py.secret", {"x": 2})]))
        assert final["state"] == "SUCCEEDED"
        assert final["blocks"][1]["jobs"][0]["output"] == {"seen": 2}
    finally:
        w.stop()
