#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pipe that wakes the event loop's `zmq_poll` from another thread or a signal
/// handler: `signal()` writes one byte (async-signal-safe), the loop polls `readFd` and
/// calls `drain()`. The read end never blocks.
///
/// `Sendable` as checked by the compiler: the descriptors never change, and `write(2)`
/// and `read(2)` may be called on them from any thread.
final class WakePipe: Sendable {
    let readFd: Int32
    private let writeFd: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BrokerError.system("pipe", errno) }
        readFd = fds[0]
        writeFd = fds[1]
        _ = fcntl(readFd, F_SETFL, fcntl(readFd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(readFd)
        close(writeFd)
    }

    func signal() {
        var b: UInt8 = 1
        _ = write(writeFd, &b, 1)
    }

    /// Reads every byte written so far.
    func drain() {
        var sink = [UInt8](repeating: 0, count: 64)
        while read(readFd, &sink, sink.count) > 0 {}
    }
}
