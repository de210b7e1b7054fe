#!/usr/bin/env python3
"""A Python worker doing the lesson's idempotent action: write a file only when its
sha256 differs (atomically, via a temporary file and rename), and say whether it
changed anything. Running the same job twice changes nothing the second time, so
at-least-once delivery is harmless.

Job types:
  py.file.write {path, content}   -> {"changed", "sha256", "path"} (like Swift's file.write)
  py.sha256     {path, expect?}   -> {"sha256", "path", "size"}; fails for good when the
                                     file's sha256 is not `expect`

    python3 file_write_worker.py --broker tcp://127.0.0.1:5556 --capacity 4
"""

import argparse
import hashlib
import logging
import os
import tempfile

from baton import JobFailed, Worker


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def file_write(job):
    path, content = job.args.get("path"), job.args.get("content")
    if not isinstance(path, str) or not path or not isinstance(content, str):
        raise JobFailed("args need a string `path` and a string `content`", retryable=False)
    data = content.encode("utf-8")
    want = hashlib.sha256(data).hexdigest()
    # Already done? Then this delivery is a repeat: change nothing.
    if os.path.isfile(path) and sha256_of(path) == want:
        return {"changed": False, "sha256": want, "path": path}
    job.check_cancelled()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".baton-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: readers see the old file or the new one
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"changed": True, "sha256": want, "path": path}


def sha256_check(job):
    path = job.args.get("path")
    if not isinstance(path, str) or not path:
        raise JobFailed("args need a string `path`", retryable=False)
    digest = sha256_of(path)  # a missing file is a retryable failure
    expect = job.args.get("expect")
    if expect is not None and digest != expect:
        raise JobFailed(f"{path}: sha256 is {digest}, expected {expect}", retryable=False)
    return {"sha256": digest, "path": path, "size": os.path.getsize(path)}


def make_worker(broker, name=None, capacity=4, curve_server=None, curve_secret=None):
    w = Worker(broker, name=name, capacity=capacity, curve_server=curve_server, curve_secret=curve_secret)
    w.register("py.file.write", file_write)
    w.register("py.sha256", sha256_check)
    return w


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", default="tcp://127.0.0.1:5556", help="the broker's worker endpoint")
    p.add_argument("--name", default=None)
    p.add_argument("--capacity", type=int, default=4)
    p.add_argument("--curve-server", default=None, help="the broker's public certificate (NAME.key) or Z85 key")
    p.add_argument("--curve-secret", default=None,
                   help="this worker's secret certificate (NAME.key_secret), listed in the broker's --workers-allow")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    w = make_worker(a.broker, a.name, a.capacity, a.curve_server, a.curve_secret)
    print(f"python worker {w.name}: types {', '.join(w.types)}, capacity {w.capacity}, broker {a.broker}", flush=True)
    w.run()  # until Ctrl-C or SIGTERM: then DISCONNECT and exit
    print(f"python worker {w.name}: stopped", flush=True)


if __name__ == "__main__":
    main()
