#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target from Protocol/examples and the spec's §12
examples. scripts/fuzz merges these into Fuzz/corpus/<target>/ when that is empty;
rerun by hand after the protocol changes (the corpus itself is kept minimised)."""
import hashlib, json, os, pathlib

root = pathlib.Path(__file__).resolve().parents[2]
out = root / "Fuzz" / "corpus"
US = b"\x1f"  # the frame separator FuzzInput splits on

def compact(v):
    return json.dumps(v, separators=(",", ":"), sort_keys=True).encode()

examples = [json.loads(p.read_text()) for p in sorted((root / "Protocol" / "examples").glob("*.json"))]
wf = "01JDQ8ZK4M3V7W2XN9RTBCEFGH"
client_bodies = {
    b"SUBMIT": [compact({"idempotency_key": "deploy-hello-7f3c", "workflow": e}) for e in examples]
    + [b'{"workflow":{"blocks":[{"jobs":[{"type":"echo"}]},{"jobs":[{"args":{}}]}],"name":"broken"}}'],
    b"EXEC": [compact({"id": wf})],
    b"STATUS": [compact({"id": wf})],
    b"CANCEL": [compact({"id": wf})],
    b"WATCH": [compact({"after": 5, "id": wf, "wait_ms": 30000})],
    b"LIST": [compact({"state": "RUNNING", "name": "hello", "limit": 10, "before": wf})],
    b"STOP": [compact({"name": "*", "reason": "incident 42"})],
    b"RESUME": [compact({"name": "hello"})],
    b"PING": [b"{}"],
    b"LIMITS": [b"{}"],
}
worker_bodies = {
    b"READY": [compact({"capacity": 2, "types": ["echo", "sleep", "fail", "file.write"], "worker": "w1"}),
               compact({"capacity": 0, "types": ["echo"], "worker": "w1"})],
    b"RESULT": [
        compact({"attempt": 1, "job_id": wf + ".0.0", "ok": True, "output": {"message": "hello, world"}}),
        compact({"attempt": 2, "error": "this job always fails", "job_id": wf + ".0.0", "ok": False, "retryable": False}),
    ],
    b"HEARTBEAT": [b"{}"],
    b"PROGRESS": [compact({"attempt": 1, "details": {"percent": 40}, "job_id": wf + ".0.0"})],
    b"DISCONNECT": [b"{}"],
    b"JOB": [compact({"args": {"message": "hello, world"}, "attempt": 1, "job_id": wf + ".0.0",
                      "timeout_ms": 0, "type": "echo", "workflow_id": wf})],
}

seeds = {
    "FuzzJSON": [compact(e) for e in examples] + [b'{"a":[1,-2.5e-3,true,false,null,"\\u00e9\\ud83d\\ude00\\n"]}'],
    "FuzzWorkflowSpec": [compact(e) for e in examples],
    "FuzzClientFrames": [US.join([b"", b"BATON/1", c, b"c1-0001", b]) for c, bs in client_bodies.items() for b in bs]
    + [US.join([b"", b"BATON/2", b"PING", b"p9", b"{}"])],
    "FuzzWorkerFrames": [US.join([b"", b"BATON-W/1", c, b]) for c, bs in worker_bodies.items() for b in bs],
}
for target, items in seeds.items():
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    for item in items:
        (d / ("seed-" + hashlib.sha1(item).hexdigest()[:16])).write_bytes(item)
    print(f"{target}: {len(items)} seeds")
