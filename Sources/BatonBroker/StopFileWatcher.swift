import BatonConfig
import BatonStore
import BatonWire
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches the emergency stop file on a thread of its own (never the event loop's): its
/// stops at start, then again each time the file changes (checked twice a second by
/// its size, modification time and inode, so an editor's rename counts too).
///
/// Fail-safe: a file that cannot be read or parsed means stop every workflow (`"*"`),
/// logged as an error each time it is seen, never go.
final class StopFileWatcher: Sendable {
    let path: String
    private let logger: Logger
    private let onChange: @Sendable ([String: StopRecord]) -> Void
    private let state = Mutex<(seen: FileSignature?, stopping: Bool)>((nil, false))

    /// What identifies one version of the file; nil when it cannot be stat'ed.
    struct FileSignature: Equatable {
        var inode: UInt64
        var size: Int64
        var modifiedNs: Int64
    }

    static let interval = Duration.milliseconds(500)

    init(path: String, logger: Logger, onChange: @escaping @Sendable ([String: StopRecord]) -> Void) {
        self.path = path
        self.logger = logger
        self.onChange = onChange
    }

    /// Reads the file now: the stops it says (the broker applies them before serving).
    func readNow() -> [String: StopRecord] {
        let signature = Self.signature(path)
        state.withLock { $0.seen = signature }
        return read()
    }

    /// Starts watching for changes; `stop()` ends it.
    func start() {
        let thread = Thread { [self] in
            while !state.withLock({ $0.stopping }) {
                Thread.sleep(forTimeInterval: 0.5)
                let signature = Self.signature(path)
                let changed = state.withLock { s -> Bool in
                    defer { s.seen = signature }
                    return s.seen != signature || signature == nil
                }
                if changed { onChange(read()) }
            }
        }
        thread.name = "baton-stop-file"
        thread.start()
    }

    func stop() {
        state.withLock { $0.stopping = true }
    }

    /// The file's stops, or `"*"` when it cannot be read or parsed.
    private func read() -> [String: StopRecord] {
        let now = WallClock.nowMs()
        do {
            let decisions = try EmergencyStopFile.load(path)
            var stops: [String: StopRecord] = [:]
            for (name, decision) in decisions where decision == .stop {
                stops[name] = StopRecord(reason: "emergency_stop_file \(path) says \(name): stop", at: now)
            }
            return stops
        } catch {
            logger.error("emergency stop file: \(error); stopping every workflow until it is readable and valid")
            return [StopRequest.everyName: StopRecord(reason: "emergency_stop_file \(path) is unreadable or invalid (\(error))", at: now)]
        }
    }

    static func signature(_ path: String) -> FileSignature? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileSignature(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                             modifiedNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }
}
