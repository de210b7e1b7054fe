import GRDB
import GRDBSQLite

// WAL checkpoints off the commit path.
//
// By default SQLite checkpoints in the connection that commits, once the WAL passes
// 1,000 pages: that commit then also copies those pages into the database file and
// fsyncs it, and every turn queued behind it waits (tens of ms on a large file, most of
// the tail of SUBMIT latency while retention deletes a backlog). The broker instead
// installs a WAL hook on its connection that only wakes a checkpointer, which runs
// PASSIVE checkpoints on a connection and thread of its own: a PASSIVE checkpoint takes
// no lock the writer needs, so commits go on while it copies. The WAL goes back to its
// start at the first commit after a checkpoint has copied all of it.

/// What the WAL hook needs: SQLite calls it with a raw pointer to this.
final class WalHook: Sendable {
    let threshold: Int32
    let wake: @Sendable () -> Void

    init(threshold: Int32, wake: @escaping @Sendable () -> Void) {
        self.threshold = threshold
        self.wake = wake
    }
}

extension Store {
    /// SQLite's own checkpoint threshold (`wal_autocheckpoint`), kept.
    public static let checkpointPages: Int32 = 1000

    /// Stops this connection from checkpointing: after a commit that leaves the WAL at
    /// `pages` pages or more, `wake` is called instead (on the committing thread; it must
    /// not block), and a `.checkpointer` connection does the work.
    ///
    /// Failure mode: if nothing checkpoints, the WAL grows without bound (reads slow
    /// down; nothing is lost). The broker's `Checkpointer` runs for as long as the store
    /// is open.
    public func checkpointElsewhere(atPages pages: Int32 = Store.checkpointPages, wake: @escaping @Sendable () -> Void) throws {
        let hook = WalHook(threshold: pages, wake: wake)
        walHook.withLock { $0 = hook }  // kept alive for as long as the store
        try db.inDatabase { db in
            // Replaces SQLite's auto-checkpoint, which is itself a WAL hook.
            _ = sqlite3_wal_hook(db.sqliteConnection, { context, _, _, pages in
                guard let context else { return SQLITE_OK }
                let hook = Unmanaged<WalHook>.fromOpaque(context).takeUnretainedValue()
                if pages >= hook.threshold { hook.wake() }
                return SQLITE_OK
            }, Unmanaged.passUnretained(hook).toOpaque())
        }
    }

    /// A PASSIVE checkpoint: copies as much of the WAL into the database file as no
    /// reader still needs, and fsyncs the file; never waits for, nor blocks, the writer.
    /// Returns the WAL's size and how much of it is now copied, in pages.
    @discardableResult
    public func checkpoint() throws -> (walPages: Int, copied: Int) {
        try db.inDatabase { db in
            guard let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") else { return (0, 0) }
            return (row[1] ?? 0, row[2] ?? 0)
        }
    }
}
