"""A workflow served by Swift and Python workers together, and the example programs."""

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys

import pytest

from baton import JobFailed
from helpers import events_of

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def python_env():
    env = dict(os.environ)
    # the examples import `baton`: installed, or else from the source tree
    src = os.path.abspath(os.path.join(EXAMPLES, ".."))
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def test_swift_and_python_workers_serve_one_workflow(broker, swift_worker, py_worker):
    """Both kinds of worker declare `echo`; each also has types of its own."""
    swift_worker(broker, types="echo,sleep", capacity=4, name="swift-mixed")
    py_worker(broker, {"echo": lambda job: {"python": job.args}, "py.upper": lambda job: job.args["s"].upper()},
              capacity=4, name="py-mixed")
    spec = {"name": "together", "blocks": [
        {"jobs": [{"type": "sleep", "args": {"ms": 10}}]},
        {"concurrency": 16, "jobs": [{"type": "echo", "args": {"i": i}} for i in range(16)]},
        {"jobs": [{"type": "py.upper", "args": {"s": "done"}}]},
    ]}
    with broker.client() as c:
        final = c.run(spec)
        assert final["state"] == "SUCCEEDED", final
        workers = {e["worker"] for e in events_of(c, final["id"]) if e["kind"] == "job.dispatched"}
        assert workers == {"swift-mixed", "py-mixed"}
        outputs = [j["output"] for j in final["blocks"][1]["jobs"]]
        by_python = [i for i, o in enumerate(outputs) if o == {"python": {"i": i}}]
        by_swift = [i for i, o in enumerate(outputs) if o == {"i": i}]  # Swift's echo returns its args
        assert by_python and by_swift and len(by_python) + len(by_swift) == 16
        assert final["blocks"][2]["jobs"][0]["output"] == "DONE"


def test_example_worker_and_mixed_workflow_script(broker, swift_worker, procs, tmp_path):
    out = tmp_path / "files"  # both workers' file root
    out.mkdir()
    swift_worker(broker, types="echo,file.write", name="swift-ex", file_root=out)
    worker = procs.spawn([sys.executable, os.path.join(EXAMPLES, "file_write_worker.py"),
                          "--broker", broker.worker_endpoint, "--name", "py-example", "--capacity", "2",
                          "--file-root", str(out)],
                         tmp_path / "py-worker.log", env=python_env())
    journal = tmp_path / "journal.jsonl"
    argv = [sys.executable, os.path.join(EXAMPLES, "mixed_workflow.py"), "--clients", broker.client_endpoint,
            "--workers", broker.worker_endpoint, "--dir", str(out), "--journal", str(journal)]
    first = subprocess.run(argv + ["--no-python-worker"], capture_output=True, text=True, timeout=30, env=python_env())
    assert first.returncode == 0, first.stdout + first.stderr
    assert "SUCCEEDED" in first.stdout
    swift_text = (out / "from-swift.txt").read_text()
    assert (out / "from-python.txt").read_text() == "written by a Python worker\n"
    with broker.client() as c:
        st = c.status(c.list(name="mixed-swift-python")["workflows"][0]["id"])
        assert st["blocks"][1]["jobs"][0]["output"]["sha256"] == hashlib.sha256(swift_text.encode()).hexdigest()
        assert st["blocks"][1]["jobs"][1]["output"]["changed"] is True
        d = {e["job_id"].rsplit(".", 2)[1]: e["worker"] for e in events_of(c, st["id"]) if e["kind"] == "job.dispatched"}
        assert d == {"0": "swift-ex", "1": "py-example", "2": "swift-ex"}
    # the python worker example leaves cleanly on SIGTERM
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=5) == 0
    # run again with the script's own in-process Python worker: nothing changes
    second = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=python_env())
    assert second.returncode == 0, second.stdout + second.stderr
    with broker.client() as c:
        runs = c.list(name="mixed-swift-python")["workflows"]
        assert len(runs) == 2
        st = c.status(runs[0]["id"])
        assert st["state"] == "SUCCEEDED"
        assert st["blocks"][0]["jobs"][0]["output"]["changed"] is False  # Swift's file.write
        assert st["blocks"][1]["jobs"][1]["output"]["changed"] is False  # Python's py.file.write


def test_example_worker_confines_paths_to_its_file_root(tmp_path):
    """The Python example follows the Swift worker's --file-root rules (issue 12, hole 2)."""
    spec = importlib.util.spec_from_file_location("file_write_worker", os.path.join(EXAMPLES, "file_write_worker.py"))
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    root_dir = tmp_path / "root"
    (root_dir / "sub").mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (root_dir / "out").symlink_to(tmp_path)
    (root_dir / "escape").symlink_to(outside)
    os.mkfifo(root_dir / "fifo")
    os.link(outside, root_dir / "hard")
    root = example.FileRoot(str(root_dir))
    refused = {
        "": "empty", "a\0b": "contains a NUL byte", "../outside.txt": "contains a .. component",
        str(outside): "absolute; paths are relative to the worker's --file-root",
        "sub/": "names a directory, not a file", "out/outside.txt":
        "its directory is outside the worker's --file-root (through a symbolic link)",
        "escape": "is not a regular file", "fifo": "is not a regular file", "sub": "is not a regular file",
        "hard": "is a regular file with 2 hard links; only single-link files are written",
    }
    for path, why in refused.items():
        with pytest.raises(JobFailed) as e:
            root.resolve(path)
        assert e.value.message == f"args.path {json.dumps(path)}: {why}" and e.value.retryable is False
    assert root.resolve("./sub/new.txt") == str(root_dir.resolve() / "sub" / "new.txt")
    assert outside.read_text() == "keep"
    with pytest.raises(ValueError):
        example.FileRoot("/")
