import BatonStore
import BatonWire
import Foundation
import Synchronization

/// A BACKUP the engine accepted: who asked, and where the copy goes.
public struct BackupJob: Equatable, Sendable {
    public var peer: PeerId
    public var tag: [UInt8]
    public var path: String
}

/// Writes backups (spec §4.3.11) on a thread of its own, one at a time, through a
/// read-only connection of its own: in WAL mode a reader sees the last commit while the
/// committer goes on writing, so a backup of any size stalls no turn. The reply goes
/// back through `finished`, which hands it to the event loop (the socket's owner).
final class BackupRunner: Sendable {
    private let databasePath: String?
    private let finished: @Sendable (ClientReply) -> Void
    private let busy = Mutex(false)

    init(databasePath: String?, finished: @escaping @Sendable (ClientReply) -> Void) {
        self.databasePath = databasePath
        self.finished = finished
    }

    /// Starts `job`, or answers at once why it cannot run: one backup at a time, and an
    /// in-memory database has no file to copy.
    func start(_ job: BackupJob) -> ClientReply? {
        guard let databasePath else {
            return error(job, WireError(.unavailable, "this broker's database is in memory (tests only): nothing to back up"))
        }
        guard busy.withLock({ running in
            defer { running = true }
            return !running
        }) else {
            return error(job, WireError(.unavailable, "a backup is already running; retry when it has finished"))
        }
        let thread = Thread { [self] in
            let reply = run(job, from: databasePath)
            busy.withLock { $0 = false }
            finished(reply)
        }
        thread.name = "baton-backup"
        thread.start()
        return nil
    }

    private func run(_ job: BackupJob, from databasePath: String) -> ClientReply {
        let started = ContinuousClock.now
        do {
            let directory = (job.path as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw WireError(.badRequest, "path: the directory \(directory) does not exist on the broker's host")
            }
            guard !FileManager.default.fileExists(atPath: job.path) else {
                throw WireError(.badRequest, "path: \(job.path) exists; a backup never overwrites a file")
            }
            let bytes = try Store(path: databasePath, access: .reader).backup(to: job.path)
            let workflows = try Store(path: job.path, access: .reader).countByState().values.reduce(0, +)
            let elapsed = (ContinuousClock.now - started).components
            let ms = elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
            return ClientReply(peer: job.peer, command: .ok, tag: job.tag, body: [
                "path": .string(job.path), "bytes": .int(bytes), "workflows": .int(Int64(workflows)), "took_ms": .int(ms),
            ])
        } catch let error as WireError {
            return self.error(job, error)
        } catch {
            try? FileManager.default.removeItem(atPath: job.path)  // a partial copy is no backup
            return self.error(job, WireError(.unavailable, "the backup failed: \(error)"))
        }
    }

    private func error(_ job: BackupJob, _ error: WireError) -> ClientReply {
        ClientReply(peer: job.peer, command: .error, tag: job.tag, body: error.body)
    }
}
