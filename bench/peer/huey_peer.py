#!/usr/bin/env python3
"""Measure Huey 3.5 (SqliteHuey, durable) as a peer job queue for baton-bench.

baton-bench runs this script as a child process and reads the JSON it writes
(--json), so Baton and its peer are measured in the same run, on the same disk.

What is measured, with one producer in this process and one huey_consumer
subprocess (`-k thread -w 2`) on the same SQLite file:

  * throughput: enqueue N echo tasks (one `echo(...)` call, so one durable
    enqueue, each), then fetch every result in order with
    `get(blocking=True)`; time from the first enqueue to the last result.
  * round trip: M times, one at a time, enqueue then `get(blocking=True)`;
    microseconds from before the enqueue to after the result.

Fair to Huey:

  * Durability the same as Baton's (SQLite WAL + synchronous=FULL): see
    STORAGE_NOTE below for what SqliteHuey(fsync=...) does.
  * Polling tuned for Huey's best figures (see the "Polling" comment below).
  * The consumer runs with -q: at the default INFO level Huey logs two lines
    per task ("Executing", "executed in"), consumer CPU a Baton worker does
    not spend.

Only huey and the standard library are used.  The task module is written into
DIR at run time so that the consumer and the producer import the same
`huey_peer_tasks.echo` (a Huey task's name includes its module).
"""

import argparse
import ctypes
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import time

TASKS_MODULE = 'huey_peer_tasks'

# fsync=True: SqliteHuey runs `pragma synchronous=2` (FULL) on every
# connection it opens, the producer's and the consumer's; journal_mode='wal'
# is its default.  That is Baton's setting: every enqueue, dequeue and result
# is its own `begin exclusive ... commit`, and each commit fsyncs the WAL.
# fsync=None sends no pragma and leaves SQLite's compiled default (FULL in the
# usual builds, but a build may differ); fsync=False is synchronous=OFF, which
# is not durable.  The script reads the pragma back and fails unless it is 2.
TASKS_SOURCE = '''\
# Written by bench/peer/huey_peer.py at run time; imported by the producer and
# by huey_consumer ({module}.huey).  Do not edit: it is rewritten every run.
from huey import SqliteHuey

huey = SqliteHuey('huey-peer', filename={db!r}, fsync=True,
                  journal_mode='wal')


@huey.task()
def echo(payload):
    return payload
'''

STORAGE_NOTE = (
    "SqliteHuey(filename=DIR/huey.db, fsync=True, journal_mode='wal'): "
    "fsync=True makes huey run 'pragma synchronous=2' (FULL) on each "
    "connection, so with WAL every enqueue, dequeue and result commit fsyncs "
    "the WAL, as Baton's WAL + synchronous=FULL commits do (fsync=None would "
    "leave the SQLite build's default, fsync=False is OFF and not durable); "
    "synchronous read back = {sync}")

# Polling.  Huey 3.5 has no wake-up for SQLite storage; both sides poll.
#
#  * Consumer (huey/consumer.py Worker.loop/sleep): after an empty dequeue a
#    worker sleeps `delay`, then multiplies it by `backoff`, up to
#    `max_delay`; a dequeued task resets it to `delay` (-d, default 0.1 s).
#    Defaults -d 0.1 -m 10 -b 1.15.
#  * Result (huey/storage.py BaseStorage.wait_result): get(blocking=True)
#    pops the result once, then loops `has_data_for_key` + sleep(min(d,
#    max_delay)) with d starting at 0.05 s and multiplied by `backoff`.
#    Defaults backoff=1.15, max_delay=1.0.  With max_delay < 0.05 every sleep
#    is max_delay and backoff plays no part, so backoff=1.0 says so.
#
# Sweep on the 2-core machine class (Python 3.11.7, SQLite 3.40.1, an fsync
# ~160-180 us, consumer -q; "c" = consumer -d/-m with -b 1, "g" = get
# max_delay with backoff 1; tasks/s varies +-10% between identical runs and
# hardly depends on polling, since the queue is never empty in that phase):
#   huey defaults (-d .1 -m 10 -b 1.15; get 1.15/1.0): 826-1090/s, round trip
#                                    p50 51 ms, mean 66-70 ms
#   c 10 ms, g 10 ms                 759/s, p50 16.0 ms
#   c 2 ms, g 1 ms                   p50 2.7 ms, mean 2.6 ms
#   c 1 ms, g 1 ms                   890-1084/s, p50 1.55-1.68 ms, mean 1.7 ms
#   c 1 ms -m .1 -b 1.15, g 1 ms     929/s, p50 1.7 ms but p99 16 ms
#   c 0.5 ms, g 0.5 ms   (chosen)    1071-1084/s, p50 1.60 ms, mean 1.43 ms,
#                                    p99 2.4 ms
#   c 0.2 ms, g 0.2 ms               p50 1.36-1.59 ms, mean 1.38-1.61 ms: no
#                                    clear gain for 2.5x the idle polling
#   c 0.1 ms, g 0.1 ms               735/s, p99 5.6 ms (polling eats the CPU)
#   c 1 ms, g 1 ms without -q        818/s, consumer CPU +45%
# The round trip cannot go much lower: it is 4 fsynced commits (enqueue,
# dequeue, result, result pop; ~180 us each on this disk) plus Python, plus
# on average half a poll interval on each side.
DEFAULT_DELAY = 0.0005      # consumer -d
DEFAULT_MAX_DELAY = 0.0005  # consumer -m (= -d: never back off)
DEFAULT_BACKOFF = 1.0       # consumer -b
DEFAULT_GET_MAX_DELAY = 0.0005
DEFAULT_GET_BACKOFF = 1.0

SWEEP_NOTE = (
    "Polling chosen by a sweep on this machine class (details in the "
    "script): huey's defaults gave a 51 ms round-trip p50; fixed intervals "
    "of 10/1/0.5/0.2/0.1 ms on both sides gave p50 16/1.6/1.6/1.4-1.6/1.6 "
    "ms, 0.1 ms costing throughput (735/s); 0.5 ms on both sides had "
    "the best stable mean and p99. Consumer backoff (-b 1.15 -m 0.1) raised "
    "p99 to 16 ms. Throughput hardly depends on polling (+-10% run to run). "
    "-q because per-task INFO logging cost ~20% throughput.")

GET_CHUNK_S = 1.0        # get() timeout per call, to notice a dead consumer
WARMUP_DEADLINE_S = 60.0  # first result waits for the consumer to start
RESULT_DEADLINE_S = 120.0


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def warn(msg):
    print('huey_peer: ' + msg, file=sys.stderr, flush=True)


def fs_type(path):
    try:
        out = subprocess.run(['stat', '-f', '-c', '%T', path],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip()
    except Exception:
        return ''


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            rest = f.read().rsplit(')', 1)[1].split()
        # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
        return (int(rest[11]) + int(rest[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return None


def self_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def disk_sync_us(workdir, n=200):
    """What one durable commit costs this disk, for reading the figures:
    every Huey task here is 4 fsynced SQLite commits in a row, so its
    throughput follows the disk's sync latency, which on a shared virtual
    disk can move by 2x within minutes.  A 4 KiB overwrite + fdatasync, as a
    WAL commit is once SQLite reuses the WAL file from the start."""
    path = os.path.join(workdir, 'sync-probe.tmp')
    block = b'\0' * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, block * n)
        os.fsync(fd)
        times = []
        for i in range(n):
            t = time.perf_counter_ns()
            os.pwrite(fd, block, i * 4096)
            os.fdatasync(fd)
            times.append((time.perf_counter_ns() - t) / 1000.0)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return {'n': n, 'p50_us': round(percentile(times, 50), 1),
            'mean_us': round(sum(times) / n, 1)}


def die_with_parent():
    # Runs in the consumer child before exec: if this script is SIGKILLed
    # (where no finally can run), the kernel sends SIGTERM to the consumer.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Consumer:
    """huey_consumer subprocess in its own process group, logging to a file."""

    def __init__(self, workdir, cmd, log_path):
        self.log_path = log_path
        env = dict(os.environ)
        env['PYTHONPATH'] = workdir + (
            os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
        env['PYTHONUNBUFFERED'] = '1'
        self.log_file = open(log_path, 'wb')
        self.proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # own group: killpg, and no terminal ^C
            preexec_fn=die_with_parent)
        self.pid = self.proc.pid

    def check(self):
        rc = self.proc.poll()
        if rc is not None:
            raise Failure('huey_consumer exited early (status %s)' % rc)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, 'rb') as f:
                data = f.read().decode('utf-8', 'replace').splitlines()
            return '\n'.join(data[-lines:]) or '(empty: consumer runs -q)'
        except OSError as exc:
            return '(no log: %s)' % exc

    def stop(self):
        """SIGTERM the group, SIGKILL after 5 s.  Never raises."""
        # Block our own SIGINT/SIGTERM so a second signal cannot cut the
        # cleanup short; they are delivered (and exit us) afterwards.
        old = signal.pthread_sigmask(signal.SIG_BLOCK,
                                     {signal.SIGINT, signal.SIGTERM})
        try:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    warn('huey_consumer ignored SIGTERM for 5 s; SIGKILL')
            # Kill what may be left of the group (the consumer, or anything
            # it forked), then reap.
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                warn('huey_consumer pid %d did not exit' % self.pid)
            self.log_file.close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dir', required=True,
                    help='existing directory on a real disk for huey.db')
    ap.add_argument('--json', required=True, help='output JSON file')
    ap.add_argument('--tasks', type=int, default=20000)
    ap.add_argument('--roundtrips', type=int, default=1000)
    ap.add_argument('--warmup', type=int, default=500)
    ap.add_argument('--workers', type=int, default=2)
    # Polling knobs, for re-running the sweep; the defaults are the best.
    ap.add_argument('--delay', type=float, default=DEFAULT_DELAY)
    ap.add_argument('--max-delay', type=float, default=DEFAULT_MAX_DELAY)
    ap.add_argument('--backoff', type=float, default=DEFAULT_BACKOFF)
    ap.add_argument('--get-max-delay', type=float,
                    default=DEFAULT_GET_MAX_DELAY)
    ap.add_argument('--get-backoff', type=float, default=DEFAULT_GET_BACKOFF)
    ap.add_argument('--consumer-info-log', action='store_true',
                    help='run the consumer without -q (logs every task)')
    args = ap.parse_args(argv)

    if args.tasks < 1 or args.roundtrips < 1 or args.warmup < 0 \
            or args.workers < 1:
        raise Failure('--tasks, --roundtrips, --workers must be >= 1, '
                      '--warmup >= 0')
    workdir = os.path.abspath(args.dir)
    if not os.path.isdir(workdir):
        raise Failure('--dir %s is not an existing directory' % workdir)
    fstype = fs_type(workdir)
    if fstype == 'tmpfs':
        warn('%s is on tmpfs: fsync costs nothing there, so the figures are '
             'not durable figures' % workdir)

    # A fresh database every run.
    db = os.path.join(workdir, 'huey.db')
    for suffix in ('', '-wal', '-shm', '-journal'):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    with open(os.path.join(workdir, TASKS_MODULE + '.py'), 'w') as f:
        f.write(TASKS_SOURCE.format(module=TASKS_MODULE, db=db))

    # The producer imports the same module file the consumer will.
    sys.path.insert(0, workdir)
    import huey
    from huey.exceptions import ResultTimeout
    tasks = __import__(TASKS_MODULE)
    echo = tasks.echo

    sync = tasks.huey.storage.sql('pragma synchronous', results=True)[0][0]
    jmode = tasks.huey.storage.sql('pragma journal_mode', results=True)[0][0]
    if sync != 2 or jmode != 'wal':
        raise Failure('expected synchronous=2 (FULL) and journal_mode=wal, '
                      'got %r and %r' % (sync, jmode))

    polling = ['-d', repr(args.delay), '-m', repr(args.max_delay),
               '-b', repr(args.backoff)]
    quiet = [] if args.consumer_info_log else ['-q']
    cmd = [sys.executable, '-m', 'huey.bin.huey_consumer',
           TASKS_MODULE + '.huey', '-k', 'thread', '-w', str(args.workers)] \
        + polling + quiet
    get_kw = dict(backoff=args.get_backoff, max_delay=args.get_max_delay)

    # SIGTERM and SIGINT unwind through the consumer clean-up below.  Both
    # are set explicitly: a parent may start us with SIGINT ignored (a shell
    # does for background jobs), and a ^C should still stop the consumer.
    def on_signal(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    consumer = Consumer(workdir, cmd,
                        os.path.join(workdir, 'huey_consumer.log'))
    try:
        def fetch(result, deadline_s):
            """get(blocking=True) in GET_CHUNK_S slices: same polling, but a
            dead consumer fails the run instead of hanging it."""
            deadline = time.monotonic() + deadline_s
            while True:
                try:
                    return result.get(blocking=True, timeout=GET_CHUNK_S,
                                      **get_kw)
                except ResultTimeout:
                    consumer.check()
                    if time.monotonic() >= deadline:
                        raise Failure('no result for task %s after %.0f s'
                                      % (result.id, deadline_s))

        def payload(i):
            return {'i': i, 'kind': 'echo', 'data': 'x' * 16}

        # Warm-up (not timed): consumer start-up, imports, SQLite caches.
        t0 = time.monotonic()
        warm = [echo(payload(-1 - i)) for i in range(args.warmup)]
        if warm:
            fetch(warm[0], WARMUP_DEADLINE_S)
        for i, r in enumerate(warm):
            if fetch(r, RESULT_DEADLINE_S) != payload(-1 - i):
                raise Failure('warm-up result %d differs from its input' % i)
        consumer.check()
        log('huey_peer: consumer pid %d up, warm-up of %d in %.1f s'
            % (consumer.pid, args.warmup, time.monotonic() - t0))

        sync_before = disk_sync_us(workdir)

        # Throughput: one producer, N durable enqueues, then every result.
        c_cpu0, p_cpu0 = cpu_seconds(consumer.pid), self_cpu_seconds()
        start = time.perf_counter()
        results = [echo(payload(i)) for i in range(args.tasks)]
        enqueued = time.perf_counter()
        for i, r in enumerate(results):
            if fetch(r, RESULT_DEADLINE_S) != payload(i):
                raise Failure('result %d differs from its input' % i)
        seconds = time.perf_counter() - start
        c_cpu1, p_cpu1 = cpu_seconds(consumer.pid), self_cpu_seconds()
        consumer.check()
        per_s = args.tasks / seconds
        log('huey_peer: %d tasks in %.2f s = %.0f tasks/s (enqueue %.2f s; '
            'disk fdatasync p50 %.0f us)' % (args.tasks, seconds, per_s,
                                            enqueued - start,
                                            sync_before['p50_us']))

        # Round trip: one task at a time.
        rts = []
        for i in range(args.roundtrips):
            p = payload(i)
            t = time.perf_counter_ns()
            v = fetch(echo(p), RESULT_DEADLINE_S)
            rts.append((time.perf_counter_ns() - t) / 1000.0)
            if v != p:
                raise Failure('round-trip result %d differs' % i)
        consumer.check()
        rts.sort()
        rt = {'n': len(rts),
              'p50_us': round(percentile(rts, 50), 1),
              'p99_us': round(percentile(rts, 99), 1),
              'p999_us': round(percentile(rts, 99.9), 1),
              'max_us': round(rts[-1], 1),
              'mean_us': round(sum(rts) / len(rts), 1)}
        log('huey_peer: round trip n=%d p50 %.0f us, p99 %.0f us, '
            'p99.9 %.0f us, max %.0f us, mean %.0f us'
            % (rt['n'], rt['p50_us'], rt['p99_us'], rt['p999_us'],
               rt['max_us'], rt['mean_us']))

        consumer_cpu = cpu_seconds(consumer.pid)
        sync_after = disk_sync_us(workdir)
    except BaseException:
        tail = consumer.log_tail() if consumer.proc.poll() is not None \
            else None
        consumer.stop()
        if tail is not None:
            warn('huey_consumer log tail (%s):\n%s'
                 % (consumer.log_path, tail))
        raise
    else:
        consumer.stop()

    def cpu_delta(a, b):
        return None if a is None or b is None else round(b - a, 3)

    out = {
        'peer': 'Huey',
        'version': huey.__version__,
        'python': platform.python_version(),
        'sqlite': tasks.huey.storage.sql('select sqlite_version()',
                                         results=True)[0][0],
        'storage': STORAGE_NOTE.format(sync=sync),
        'consumer': 'huey_consumer -k thread -w %d %s%s' % (
            args.workers, ' '.join(polling), ' -q' if quiet else ''),
        'get': 'get(blocking=True, backoff=%r, max_delay=%r)' % (
            args.get_backoff, args.get_max_delay),
        'tasks': args.tasks,
        'seconds': round(seconds, 3),
        'per_s': round(per_s, 1),
        'enqueue_seconds': round(enqueued - start, 3),
        'throughput_cpu_seconds': {
            'consumer': cpu_delta(c_cpu0, c_cpu1),
            'producer': cpu_delta(p_cpu0, p_cpu1)},
        'roundtrip': rt,
        'consumer_cpu_seconds': (None if consumer_cpu is None
                                 else round(consumer_cpu, 3)),
        'warmup': args.warmup,
        'fs_type': fstype,
        'disk_fdatasync_us': {'before_throughput': sync_before,
                              'after_roundtrips': sync_after},
        'notes': ('One producer (this process) and one huey_consumer '
                  'process on the same SQLite file; task = echo of a small '
                  'dict; results verified. Per task: 4 fsynced commits '
                  '(enqueue, dequeue, result, result pop by get), serialized '
                  'by SQLite\'s one writer, so tasks/s follows the disk\'s '
                  'sync latency (disk_fdatasync_us, measured in the same '
                  'run) and moved 650-1120/s between identical runs here. '
                  'consumer_cpu_seconds covers the whole run (warm-up, '
                  'throughput, round trips, idle polling). ' + SWEEP_NOTE),
    }
    with open(args.json, 'w') as f:
        json.dump(out, f, indent=2)
        f.write('\n')
    log('huey_peer: wrote %s' % args.json)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except Failure as exc:
        warn('FAILED: %s' % exc)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        warn('interrupted (%s), consumer stopped' % (exc or 'SIGINT'))
        sys.exit(1)
    except Exception as exc:  # sqlite3, huey, I/O: still one clear line
        import traceback
        traceback.print_exc()
        warn('FAILED: %s: %s' % (type(exc).__name__, exc))
        sys.exit(1)
