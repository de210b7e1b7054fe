import DequeModule
import Dispatch
import Foundation
import Synchronization

/// Runs job handlers on at most `capacity` long-lived threads (handlers block: they
/// erase disks, sleep, wait on processes). A job beyond capacity waits in a FIFO queue
/// for a thread to come free; none is ever started for it.
///
/// Why long-lived threads: creating and ending a thread per JOB cost more CPU than a
/// short job itself (the end-to-end benchmark's `echo`), and the worker's CPU is taken
/// from the same cores as the broker's. Threads start lazily, one per job while fewer
/// than `capacity` exist, and then stay until `close()`.
///
/// Abandoned jobs after a reconnect: a fresh socket is a new identity, so the broker
/// ends the old session's attempts (at once after its restart, or when it counts the old
/// identity dead) and would fence off their results. `Worker` therefore fires their
/// cancellation flags when it reconnects: cooperative handlers (`sleep`, `shell`) give
/// their threads back within a moment, and a queued job whose flag is set is skipped
/// without running its handler. A handler that ignores cancellation keeps its thread
/// until it returns; meanwhile the worker runs fewer jobs than the capacity it announced,
/// and JOBs beyond that wait here (the broker's timeout covers one that waits too long).
/// The bound holds either way: never more than `capacity` handler threads.
///
/// Sendable by the compiler: the queue and counters live in a `Mutex`; idle threads
/// sleep on a counting semaphore, woken one per queued job.
final class JobPool: Sendable {
    private struct State {
        var queue = Deque<@Sendable () -> Void>()
        /// Threads started and not yet ended.
        var threads = 0
        /// Threads waiting for work on `wakeups`, not yet woken.
        var idle = 0
        var closed = false
    }

    let capacity: Int
    private let state = Mutex(State())
    private let wakeups = DispatchSemaphore(value: 0)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Threads alive now (for tests: the bound, and `close()` ending them).
    var threadCount: Int { state.withLock { $0.threads } }

    /// Queues `job`; it runs on an idle thread, on a new one while fewer than `capacity`
    /// exist, or else when a thread comes free. Jobs queued after `close()` are dropped.
    func run(_ job: @escaping @Sendable () -> Void) {
        enum Action { case wakeIdle, startThread, none }
        let action = state.withLock { state -> Action in
            guard !state.closed else { return .none }
            state.queue.append(job)
            if state.idle > 0 {
                state.idle -= 1
                return .wakeIdle
            }
            if state.threads < capacity {
                state.threads += 1
                return .startThread
            }
            return .none
        }
        switch action {
        case .wakeIdle: wakeups.signal()
        case .startThread: startThread()
        case .none: break
        }
    }

    /// Lets every thread end once the queue is empty; running jobs finish first.
    func close() {
        let idle = state.withLock { state -> Int in
            state.closed = true
            defer { state.idle = 0 }
            return state.idle
        }
        for _ in 0..<idle { wakeups.signal() }
    }

    private func startThread() {
        let thread = Thread { [self] in loop() }
        thread.name = "baton-job"
        thread.start()
    }

    private func loop() {
        while let job = nextJob() { job() }
    }

    /// The next queued job, waiting while there is none; nil when the pool is closed and
    /// drained (the thread then ends). A wake-up may find the queue empty (a thread that
    /// just finished took the job first): it then waits again.
    private func nextJob() -> (@Sendable () -> Void)? {
        while true {
            let next = state.withLock { state -> (@Sendable () -> Void)?? in
                if let job = state.queue.popFirst() { return .some(job) }
                if state.closed {
                    state.threads -= 1
                    return .some(nil)
                }
                state.idle += 1
                return nil
            }
            if let next { return next }
            wakeups.wait()
        }
    }
}
