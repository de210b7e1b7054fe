import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory lock (`flock`) on `<database>.lock`, held while it lives or until
/// `release()`.
///
/// Why a file of its own: the broker no longer opens its database with SQLite's
/// `locking_mode = EXCLUSIVE` (a second, read-only connection must read it), but two
/// brokers on one file would dispatch the same jobs, and a tool writing under a running
/// broker would leave its memory behind the store. The lock is not taken on the
/// database file itself: closing any descriptor of that file drops every POSIX lock
/// SQLite holds on it in this process. The kernel releases a `flock` when the process
/// dies, so a crashed broker never leaves a stale lock behind.
final class FileLock: Sendable {
    /// The lock file's descriptor; -1 once released. A mutex, because `release()` (from
    /// `Store.close()`) and `deinit` may run on different threads.
    private let fd: Mutex<Int32>

    /// Takes the lock (`exclusive`: the owner's; shared: a tool's) or throws at once,
    /// never waiting.
    init(database path: String, exclusive: Bool) throws {
        let lockPath = Self.lockPath(for: path)
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.locked("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        guard flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK {
                throw StoreError.locked(exclusive
                    ? "\(lockPath) is held by another process: is a broker already running on this database?"
                    : "a broker is running on \(path); ask it over the wire (`baton status`, `baton list`) instead")
            }
            throw StoreError.locked("cannot lock \(lockPath): \(String(cString: strerror(err)))")
        }
        self.fd = Mutex(fd)
    }

    deinit { release() }

    func release() {
        fd.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// `<file>.lock` next to the database's real path, so that a symlink or a relative
    /// path names the same lock as the path the broker was given.
    static func lockPath(for path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real) + ".lock"
        }
        // Not created yet: resolve the directory, keep the name.
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let real = realpath(dir.isEmpty ? "/" : dir, nil) else { return path + ".lock" }
        defer { free(real) }
        return String(cString: real) + "/" + name + ".lock"
    }
}
