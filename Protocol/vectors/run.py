#!/usr/bin/env python3
"""Replays the conformance vectors (client.json, worker.json) against a Baton broker.

    run.py --baton PATH/TO/baton          start a broker of our own (free ports, a temp db)
    run.py --clients tcp://H:P --workers tcp://H:P   use a running broker (empty store,
                                                     no workers, plain mode)

Exit 0 when every case holds, 1 otherwise. Needs pyzmq. The vectors are the data; this
runner is one reader of them: an SDK in another language can replay the same files.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
NO_REPLY_WAIT_MS = 300
REPLY_WAIT_MS = 5000


def frame(spec, variables):
    if isinstance(spec, str):
        return re.sub(r"\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), spec).encode()
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "fill" in spec:
        return (spec["fill"] * spec["bytes"]).encode()[: spec["bytes"]]
    raise ValueError(f"bad frame {spec!r}")


def substitute(value, variables):
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), value)
    return value


def check(case, reply, variables):
    """The problems with `reply` (a list of frames, or None), as strings."""
    expect = case["expect"]
    if expect.get("no_reply"):
        return [] if reply is None else [f"expected no reply, got {reply[:4]!r}"]
    if reply is None:
        return ["no reply"]
    problems = []
    want = [frame(f, variables) for f in expect.get("frames", [])]
    if reply[: len(want)] != want:
        problems.append(f"frames {reply[:len(want)]!r} != {want!r}")
    try:
        body = json.loads(reply[-1])
    except ValueError:
        return problems + [f"body is not JSON: {reply[-1][:80]!r}"]
    for key, value in expect.get("body", {}).items():
        if body.get(key) != substitute(value, variables):
            problems.append(f"body[{key!r}] = {body.get(key)!r}, expected {substitute(value, variables)!r}")
    for key in expect.get("body_has", []):
        if key not in body:
            problems.append(f"body has no {key!r}: {sorted(body)}")
    prefix = expect.get("message_prefix")
    if prefix and not str(body.get("message", "")).startswith(prefix):
        problems.append(f"message {body.get('message')!r} does not start with {prefix!r}")
    for var, key in case.get("capture", {}).items():
        variables[var] = str(body.get(key))
    return problems


def run_file(context, path, endpoint):
    with open(path) as f:
        vectors = json.load(f)
    variables, failures, sock = {}, 0, None
    for case in vectors["cases"]:
        if sock is None or not case.get("same_connection"):
            if sock is not None:
                sock.close(0)
            sock = context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
        sock.send_multipart([frame(f, variables) for f in case["send"]])
        wait = NO_REPLY_WAIT_MS if case["expect"].get("no_reply") else REPLY_WAIT_MS
        reply = sock.recv_multipart() if sock.poll(wait) else None
        problems = check(case, reply, variables)
        print(f"{'ok  ' if not problems else 'FAIL'} {os.path.basename(path)}: {case['name']}")
        for p in problems:
            print(f"       {p}")
        failures += bool(problems)
    if sock is not None:
        sock.close(0)
    return len(vectors["cases"]), failures


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baton", help="the baton binary: start a broker of our own")
    ap.add_argument("--clients")
    ap.add_argument("--workers")
    args = ap.parse_args()
    broker = None
    tmp = tempfile.TemporaryDirectory()
    if args.baton:
        args.clients = f"tcp://127.0.0.1:{free_port()}"
        args.workers = f"tcp://127.0.0.1:{free_port()}"
        log = open(os.path.join(tmp.name, "broker.log"), "w")
        broker = subprocess.Popen([args.baton, "broker", "--clients", args.clients, "--workers", args.workers,
                                   "--db", os.path.join(tmp.name, "vectors.db")], stdout=log, stderr=log)
    elif not (args.clients and args.workers):
        ap.error("give --baton, or --clients and --workers")
    context = zmq.Context()
    try:
        if broker is not None:
            wait_for_pong(context, args.clients, broker)
        total = failed = 0
        for name, endpoint in (("client.json", args.clients), ("worker.json", args.workers)):
            n, f = run_file(context, os.path.join(HERE, name), endpoint)
            total, failed = total + n, failed + f
        print(f"vectors: {total - failed} passed, {failed} failed")
        return 1 if failed else 0
    finally:
        context.term()
        if broker is not None:
            broker.terminate()
            try:
                broker.wait(10)
            except subprocess.TimeoutExpired:
                broker.kill()
                broker.wait()
        tmp.cleanup()


def wait_for_pong(context, endpoint, broker):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if broker.poll() is not None:
            sys.exit(f"the broker exited with {broker.returncode} at start")
        s = context.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        s.send_multipart([b"", b"BATON/1", b"PING", b"", b"{}"])
        ok = s.poll(300)
        s.close(0)
        if ok:
            return
    sys.exit("the broker did not answer PING within 20 s")


if __name__ == "__main__":
    sys.exit(main())
