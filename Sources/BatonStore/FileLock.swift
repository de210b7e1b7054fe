#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (`flock`) on `<database>.lock`, held while it lives.
///
/// Why a file of its own: the broker no longer opens its database with SQLite's
/// `locking_mode = EXCLUSIVE` (a second, read-only connection must read it), but two
/// brokers on one file would dispatch the same jobs. The lock is not taken on the
/// database file itself: closing any descriptor of that file drops every POSIX lock
/// SQLite holds on it in this process. The kernel releases a `flock` when the process
/// dies, so a crashed broker never leaves a stale lock behind.
final class FileLock {
    private let fd: Int32

    /// Takes the lock or throws at once (never waits): another holder is another broker.
    init(path: String) throws {
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.locked("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK {
                throw StoreError.locked("\(path) is held by another process: is a broker already running on this database?")
            }
            throw StoreError.locked("cannot lock \(path): \(String(cString: strerror(err)))")
        }
    }

    deinit { close(fd) }
}
