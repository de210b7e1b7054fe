import BatonStore
import Foundation

/// Runs the broker's WAL checkpoints on a thread and connection of its own, woken by the
/// store's WAL hook (`Store.checkpointElsewhere`), so that no commit — and no turn
/// queued behind one — waits for pages to be copied into the database file.
///
/// `@unchecked Sendable`: the committer's thread calls `wake` (from the WAL hook) and the
/// event loop's thread `stop`, while this object's thread runs `loop`; `pending`,
/// `stopping` and `exited` are read and written only with `condition` locked, the rest
/// is immutable. (`NSCondition` has no `Mutex` equivalent with a wait.)
final class Checkpointer: @unchecked Sendable {
    /// Checkpoints run since start, and the ones that failed (retried at the next wake).
    struct Stats: Sendable {
        var count = 0
        var failed = 0
    }

    private let store: Store
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending = false
    private var stopping = false
    private var exited = false
    private var figures = Stats()

    /// Opens a `.checkpointer` connection to `path` (the owner's file) and starts.
    init(path: String) throws {
        store = try Store(path: path, access: .checkpointer)
        let thread = Thread { [self] in loop() }
        thread.name = "baton-checkpointer"
        thread.start()
    }

    /// Asks for a checkpoint; never blocks (called inside a commit).
    func wake() {
        condition.lock()
        pending = true
        condition.signal()
        condition.unlock()
    }

    func stats() -> Stats {
        condition.lock()
        defer { condition.unlock() }
        return figures
    }

    /// Ends the thread and closes the connection; returns when both are done. Call it
    /// before the owner's store closes: the owner's close then checkpoints what is left.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !exited { condition.wait() }
        condition.unlock()
        try? store.close()
    }

    private func loop() {
        while waitForWork() {
            let failed = (try? store.checkpoint()) == nil
            condition.lock()
            figures.count += 1
            if failed { figures.failed += 1 }
            condition.unlock()
        }
        condition.lock()
        exited = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for a wake; false once stopping.
    private func waitForWork() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !pending && !stopping { condition.wait() }
        pending = false
        return !stopping
    }
}
