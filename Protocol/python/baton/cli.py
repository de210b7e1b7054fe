"""``baton-py``: run a Python worker from the command line, like ``rq worker`` or
``celery -A``:

    baton-py worker myjobs:worker --broker tcp://broker:5556 --capacity 8

``module:object`` names a ``baton.Worker`` (or a function returning one) in an
importable module; the current directory is searched first, as ``python -m`` does.
Flags override what the module set (``--executor process`` runs the handlers that
did not choose an executor in a process per job); the broker comes from ``--broker``, else
``$BATON_WORKER_BROKER``, else the Worker's own endpoint. The first SIGTERM or Ctrl-C
drains (no new jobs, running ones finish for up to ``--drain-timeout`` seconds), a
second leaves at once.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Optional, Sequence

from . import __version__
from .worker import Worker

BROKER_ENV = "BATON_WORKER_BROKER"


def load_worker(target: str) -> Worker:
    """The Worker ``module:object`` names (``module`` alone: its ``worker``); a callable
    object is called (a factory). Raises ``ValueError`` when it is not a Worker."""
    module_name, _, attr = target.partition(":")
    if not module_name:
        raise ValueError(f"{target!r}: expected module:object")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj: object = importlib.import_module(module_name)
    for part in (attr or "worker").split("."):
        obj = getattr(obj, part)
    if callable(obj) and not isinstance(obj, Worker):
        obj = obj()
    if not isinstance(obj, Worker):
        raise ValueError(f"{target} is a {type(obj).__name__}, not a baton.Worker")
    return obj


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baton-py", description="Baton for Python.")
    p.add_argument("--version", action="version", version=f"baton-py {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run a worker defined in a module (module:object)",
                       description="Run the baton.Worker that MODULE:OBJECT names until SIGTERM or Ctrl-C.")
    w.add_argument("target", metavar="MODULE:OBJECT", help="e.g. myjobs:worker (a Worker or a function returning one)")
    w.add_argument("--broker", help=f"the broker's worker endpoint (default: ${BROKER_ENV}, else the Worker's own)")
    w.add_argument("--name", help="the worker's name in READY (default: the Worker's own)")
    w.add_argument("--capacity", type=int, help="most jobs run at once, 1..10000 (default: the Worker's own)")
    w.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                   help="on SIGTERM, how long running jobs may finish (default: the Worker's own, 30)")
    w.add_argument("--executor", choices=["thread", "process"],
                   help="where handlers without an executor of their own run: the thread pool, or a process "
                        "per job for CPU-bound work (default: the Worker's own, thread)")
    w.add_argument("--curve-server", help="the broker's public certificate (NAME.key) or Z85 key")
    w.add_argument("--curve-secret", help="this worker's secret certificate (NAME.key_secret)")
    w.add_argument("--log-level", default="INFO", help="logging level of the 'baton' logger (default INFO)")
    return p


def configure(worker: Worker, args: argparse.Namespace) -> Worker:
    """Apply the command line's flags to a Worker that has not started; a Worker with
    other keys is rebuilt with the same handlers."""
    broker = args.broker or os.environ.get(BROKER_ENV)
    if broker:
        worker.endpoint = broker
    if args.name:
        worker.name = args.name
    if args.capacity is not None:
        if not 1 <= args.capacity <= 10000:
            raise ValueError("--capacity must be between 1 and 10000")
        worker.capacity = args.capacity
    if args.drain_timeout is not None:
        if args.drain_timeout < 0:
            raise ValueError("--drain-timeout must be >= 0")
        worker.drain_timeout = args.drain_timeout
    if args.executor is not None:
        worker.executor = args.executor
    if args.curve_server or args.curve_secret:
        keyed = Worker(worker.endpoint, name=worker.name, capacity=worker.capacity,
                       drain_timeout=worker.drain_timeout, curve_server=args.curve_server,
                       curve_secret=args.curve_secret, executor=worker.executor,
                       start_method=worker.start_method, kill_grace=worker.kill_grace)
        for job_type in worker.types:
            keyed.register(job_type, worker.handler(job_type), executor=worker._executors.get(job_type))
        worker = keyed
    return worker


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("baton").setLevel(args.log_level.upper())
    try:
        worker = configure(load_worker(args.target), args)
        worker._check_process_handlers()  # a process job's handler must pickle
    except (ImportError, AttributeError, ValueError, OSError, TypeError) as e:
        print(f"baton-py worker: {e}", file=sys.stderr)
        return 2
    log = logging.getLogger("baton.cli")
    log.info("worker %s: %s, capacity %d, types %s", worker.name, worker.endpoint, worker.capacity,
             ",".join(f"{t} (process)" if worker.executor_of(t) == "process" else t for t in worker.types))
    worker.run()
    return 0
