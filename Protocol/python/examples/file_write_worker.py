#!/usr/bin/env python3
"""A Python worker doing the lesson's idempotent action: write a file only when its
sha256 differs (atomically, via a temporary file and rename), and say whether it
changed anything. Running the same job twice changes nothing the second time, so
at-least-once delivery is harmless.

Job types:
  py.file.write {path, content}   -> {"changed", "sha256", "path"} (like Swift's file.write)
  py.sha256     {path, expect?}   -> {"sha256", "path", "size"}; fails for good when the
                                     file's sha256 is not `expect`

Both confine `path` to the worker's --file-root, by the rules of Swift's `baton worker
--file-root` (a path comes from whoever may submit workflows): relative to the root, no
`..`, no NUL, no symbolic link out of the root, and only regular single-link files.
Directories are not created.

    python3 file_write_worker.py --broker tcp://127.0.0.1:5556 --file-root var/files
"""

import argparse
import errno
import hashlib
import json
import logging
import os
import stat
import tempfile

from baton import JobFailed, Worker


class FileRoot:
    """The directory the file job types are confined to (see the module's docstring)."""

    def __init__(self, path):
        real = os.path.realpath(path)
        if not os.path.isdir(real):
            raise ValueError(f"--file-root {path}: not an existing directory")
        if real == os.sep:
            raise ValueError("--file-root /: the whole file system is no confinement")
        self.path = real

    def resolve(self, path):
        """The absolute path `path` names under the root; a refusal raises JobFailed(retryable=False)."""
        if not isinstance(path, str):
            raise JobFailed("args.path: required, a string relative to the worker's --file-root", retryable=False)
        if not path:
            raise refusal(path, "empty")
        if "\0" in path:
            raise refusal(path, "contains a NUL byte")
        if path.startswith("/"):
            raise refusal(path, "absolute; paths are relative to the worker's --file-root")
        if path.endswith("/"):
            raise refusal(path, "names a directory, not a file")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise refusal(path, "contains a .. component")
        if not parts:
            raise refusal(path, "names a directory, not a file")
        directory = os.path.realpath(os.path.join(self.path, *parts[:-1]))
        if directory != self.path and not directory.startswith(self.path + os.sep):
            raise refusal(path, "its directory is outside the worker's --file-root (through a symbolic link)")
        full = os.path.join(directory, parts[-1])
        try:
            check_regular(os.lstat(full), path)  # before any open: opening a FIFO or device has effects
        except FileNotFoundError:
            pass
        return full


def refusal(path, why):
    return JobFailed(f"args.path {json.dumps(path)}: {why}", retryable=False)


def check_regular(st, path):
    if not stat.S_ISREG(st.st_mode):
        raise refusal(path, "is not a regular file")
    if st.st_nlink != 1:
        raise refusal(path, f"is a regular file with {st.st_nlink} hard links; only single-link files are written")


def read_confined(full, path):
    """The file's bytes (None when missing), never through a symbolic link or from a FIFO or device."""
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise refusal(path, "is not a regular file") from None
        raise
    with os.fdopen(fd, "rb") as f:
        check_regular(os.fstat(f.fileno()), path)  # the name may have changed since the lstat
        return f.read()


def file_write(root):
    def handler(job):
        path, content = job.args.get("path"), job.args.get("content")
        if not isinstance(content, str):
            raise JobFailed("args.content: required, a string", retryable=False)
        full = root.resolve(path)
        data = content.encode("utf-8")
        want = hashlib.sha256(data).hexdigest()
        # Already done? Then this delivery is a repeat: change nothing.
        existing = read_confined(full, path)
        if existing is not None and hashlib.sha256(existing).hexdigest() == want:
            return {"changed": False, "sha256": want, "path": path}
        job.check_cancelled()
        fd, tmp = tempfile.mkstemp(prefix=".baton-", dir=os.path.dirname(full))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, full)  # atomic: readers see the old file or the new one; never follows a link
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return {"changed": True, "sha256": want, "path": path}

    return handler


def sha256_check(root):
    def handler(job):
        path = job.args.get("path")
        full = root.resolve(path)
        data = read_confined(full, path)
        if data is None:  # a missing file is a retryable failure
            raise JobFailed(f"args.path {json.dumps(path)}: no such file")
        digest = hashlib.sha256(data).hexdigest()
        expect = job.args.get("expect")
        if expect is not None and digest != expect:
            raise JobFailed(f"{path}: sha256 is {digest}, expected {expect}", retryable=False)
        return {"sha256": digest, "path": path, "size": len(data)}

    return handler


def make_worker(broker, file_root, name=None, capacity=4, curve_server=None, curve_secret=None):
    """A worker for py.file.write and py.sha256, confined to `file_root` (ValueError if unusable)."""
    root = FileRoot(file_root)
    w = Worker(broker, name=name, capacity=capacity, curve_server=curve_server, curve_secret=curve_secret)
    w.register("py.file.write", file_write(root))
    w.register("py.sha256", sha256_check(root))
    return w


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", default="tcp://127.0.0.1:5556", help="the broker's worker endpoint")
    p.add_argument("--name", default=None)
    p.add_argument("--capacity", type=int, default=4)
    p.add_argument("--file-root", required=True, help="the directory job paths are relative to")
    p.add_argument("--curve-server", default=None, help="the broker's public certificate (NAME.key) or Z85 key")
    p.add_argument("--curve-secret", default=None,
                   help="this worker's secret certificate (NAME.key_secret), listed in the broker's --workers-allow")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        w = make_worker(a.broker, a.file_root, a.name, a.capacity, a.curve_server, a.curve_secret)
    except ValueError as e:
        p.error(str(e))
    print(f"python worker {w.name}: types {', '.join(w.types)}, capacity {w.capacity}, broker {a.broker}", flush=True)
    w.run()  # until Ctrl-C or SIGTERM: then DISCONNECT and exit
    print(f"python worker {w.name}: stopped", flush=True)


if __name__ == "__main__":
    main()
