import Foundation

/// What Ctrl-C prints on a command that follows a workflow (`run`, `resume`, `watch`)
/// before it exits 130: the workflow keeps running at the broker, its ID, and how to
/// re-attach. The text is kept current as the handshake moves on (`set`), and written by
/// the signal handler with write(2) from a buffer filled beforehand: a handler may call
/// only async-signal-safe functions, so nothing there allocates or takes a lock.
enum InterruptNotice {
    private static let capacity = 4096
    nonisolated(unsafe) private static var buffer: UnsafeMutablePointer<UInt8> = .allocate(capacity: capacity)
    nonisolated(unsafe) private static var length = 0

    /// Installs the SIGINT handler, with `message` as the first notice.
    static func install(_ message: String) {
        set(message)
        signal(SIGINT) { _ in
            _ = write(STDERR_FILENO, InterruptNotice.buffer, InterruptNotice.length)
            _exit(ExitStatus.interrupted.rawValue)
        }
    }

    /// Replaces the notice. A signal between the two stores prints nothing rather than
    /// half a line (the length is zeroed first).
    static func set(_ message: String) {
        let bytes = Array("\ninterrupted: \(message)\n".utf8.prefix(capacity))
        length = 0
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: $0.count) }
        length = bytes.count
    }
}
