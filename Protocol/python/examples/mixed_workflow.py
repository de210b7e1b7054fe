#!/usr/bin/env python3
"""Run a workflow that mixes Swift built-in jobs and Python jobs, with the journaled
three-way handshake (SUBMIT -> journal the id -> EXEC -> watch).

    block 0  Swift   file.write     writes DIR/from-swift.txt
    block 1  Python  py.sha256      checks that file's sha256          (concurrently)
             Python  py.file.write  writes DIR/from-python.txt
    block 2  Swift   echo           reports the end

The jobs name their files relative to DIR (--dir), which both workers are given as their
file root. Needs a broker and a Swift worker (`baton worker --types echo,file.write
--file-root DIR`). A Python worker for the py.* types runs inside this script unless
--no-python-worker is given (then run `examples/file_write_worker.py --file-root DIR`).
Run it twice: the second run changes nothing (every write reports "changed": false).
Exit 0 only when the workflow SUCCEEDED.

    python3 mixed_workflow.py --clients tcp://127.0.0.1:5555 --workers tcp://127.0.0.1:5556 --dir var/mixed
"""

import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from baton import Client  # noqa: E402
from file_write_worker import make_worker  # noqa: E402

SWIFT_TEXT = "written by a Swift worker, checked by a Python worker\n"
PYTHON_TEXT = "written by a Python worker\n"


def workflow():
    swift_file = "from-swift.txt"  # paths relative to the workers' file root
    python_file = "from-python.txt"
    retry = {"max_attempts": 3, "backoff_ms": 200}
    return {
        "name": "mixed-swift-python",
        "description": "Swift built-in jobs and Python jobs in one workflow.",
        "blocks": [
            {"jobs": [{"type": "file.write", "name": "swift-write", "timeout_ms": 10000, "retry": retry,
                       "args": {"path": swift_file, "content": SWIFT_TEXT}}]},
            {"concurrency": 2, "jobs": [
                {"type": "py.sha256", "name": "python-check", "timeout_ms": 10000, "retry": retry,
                 "args": {"path": swift_file, "expect": hashlib.sha256(SWIFT_TEXT.encode()).hexdigest()}},
                {"type": "py.file.write", "name": "python-write", "timeout_ms": 10000, "retry": retry,
                 "args": {"path": python_file, "content": PYTHON_TEXT}},
            ]},
            {"jobs": [{"type": "echo", "name": "swift-done", "args": {"done": True}}]},
        ],
    }


def main():
    p = argparse.ArgumentParser(description="Run a workflow served by Swift and Python workers together.")
    p.add_argument("--clients", default="tcp://127.0.0.1:5555", help="the broker's client endpoint")
    p.add_argument("--workers", default="tcp://127.0.0.1:5556", help="the broker's worker endpoint")
    p.add_argument("--dir", default="var/mixed", help="where the jobs write their files: the workers' file root")
    p.add_argument("--journal", default=".baton/journal.jsonl")
    p.add_argument("--no-python-worker", action="store_true", help="do not run a Python worker in this process")
    p.add_argument("--timeout-ms", type=int, default=5000)
    a = p.parse_args()

    directory = os.path.abspath(a.dir)
    os.makedirs(directory, exist_ok=True)  # the file jobs do not create directories
    worker = None
    if not a.no_python_worker:
        worker = make_worker(a.workers, directory, name=f"mixed-example-{os.getpid()}", capacity=2).start()
    try:
        with Client(a.clients, timeout=a.timeout_ms / 1000) as client:
            def show(e):
                extra = {k: v for k, v in e.items() if k not in ("seq", "at", "kind")}
                print(f"  {e['seq']:3d} {e['kind']:20s} {json.dumps(extra, sort_keys=True)}", flush=True)

            final = client.run(workflow(), journal=a.journal, on_event=show)
    finally:
        if worker is not None:
            worker.stop()
    print(f"workflow {final['id']}: {final['state']}{' (' + final['reason'] + ')' if 'reason' in final else ''}")
    for b, block in enumerate(final["blocks"]):
        for job in block["jobs"]:
            print(f"  block {b} {job.get('name', job['type']):13s} {job['state']:9s} attempt {job['attempt']}"
                  f"  {json.dumps(job.get('output', job.get('error')), sort_keys=True)}")
    sys.exit(0 if final["state"] == "SUCCEEDED" else 1)


if __name__ == "__main__":
    main()
