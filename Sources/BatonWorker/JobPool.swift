import Foundation

/// Runs job handlers on long-lived threads, each job on a thread of its own while it
/// runs (handlers block: they erase disks, sleep, wait on processes).
///
/// Why not a new thread per JOB, as before: creating and ending a thread cost more CPU
/// than a short job itself (the end-to-end benchmark's `echo`), and the worker's CPU is
/// taken from the same cores as the broker's. A job never waits for a thread: when none
/// is idle a new one starts, so an abandoned job still running after a reconnect cannot
/// hold up new ones. Idle threads beyond `keepIdle` end.
final class JobPool: @unchecked Sendable {
    private let keepIdle: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var work: [@Sendable () -> Void] = []
    private var idle = 0

    init(keepIdle: Int) {
        self.keepIdle = max(1, keepIdle)
    }

    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        work.append(job)
        // Each idle thread takes one job; more jobs than idle threads start new ones.
        if work.count <= idle {
            condition.signal()
        } else {
            let thread = Thread { [self] in loop() }
            thread.name = "baton-job"
            thread.start()
        }
    }

    private func loop() {
        condition.lock()
        while true {
            while work.isEmpty {
                if idle >= keepIdle {
                    condition.unlock()
                    return
                }
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = work.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
