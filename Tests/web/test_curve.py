"""`baton web` under CURVE takes the same key options as every client command: with an
admin key it sees STATS and LIMITS and offers stop and go; with a client key it shows
that key's own workflows and says plainly what it may not see."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import Cluster, echo_spec


def keygen(bin: str, folder, name: str) -> None:
    subprocess.run([bin, "keygen", str(folder), name], check=True, capture_output=True, timeout=30)


@pytest.fixture
def curve_cluster(baton_bin, tmp_path):
    keys = tmp_path / "keys"
    for name in ["broker", "ops", "dev", "worker"]:
        keygen(baton_bin, keys, name)
    allow = {role: tmp_path / "allow" / role for role in ["admins", "clients", "workers"]}
    for role, name in [("admins", "ops"), ("clients", "dev"), ("workers", "worker")]:
        allow[role].mkdir(parents=True)
        shutil.copy(keys / f"{name}.key", allow[role] / f"{name}.key")
    c = Cluster(baton_bin, tmp_path)
    c.broker_extra = ["--curve-secret", str(keys / "broker.key_secret"), "--admins-allow", str(allow["admins"]),
                      "--clients-allow", str(allow["clients"]), "--workers-allow", str(allow["workers"])]
    c.client_keys = ["--curve-server", str(keys / "broker.key"), "--curve-secret", str(keys / "ops.key_secret")]
    c.worker_keys = ["--curve-server", str(keys / "broker.key"), "--curve-secret", str(keys / "worker.key_secret")]
    c.keys = keys
    try:
        c.start_broker()
        c.start_worker()
        yield c
    finally:
        c.close()


def test_an_admin_key_sees_everything_and_a_client_key_only_its_own(curve_cluster):
    c = curve_cluster
    done = c.run(echo_spec("curve-ops"))
    assert done["state"] == "SUCCEEDED" and done["owner"] == "ops"

    c.start_web(*c.client_keys)
    status, body, _ = c.get("/")
    assert status == 200, body[-500:]
    assert 'id="stop-form"' in body and "<code>echo</code>" in body
    status, body, _ = c.get("/workflows")
    assert status == 200 and done["id"] in body
    c.stop(c.web)

    c.start_web("--curve-server", str(c.keys / "broker.key"), "--curve-secret", str(c.keys / "dev.key_secret"))
    status, body, _ = c.get("/")
    assert status == 200
    assert "STATS: forbidden" in body and 'id="stop-form"' not in body
    status, body, _ = c.get("/workers")
    assert status == 403 and "admin key" in body
    status, body, _ = c.get("/workflows")
    assert status == 200 and done["id"] not in body  # another owner's workflow
    status, _, _ = c.get(f"/workflows/{done['id']}")
    assert status == 404  # ids do not leak (spec §3.6)
