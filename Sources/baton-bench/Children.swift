import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Child processes (brokers, workers): started with posix_spawn, always ended.
///
/// Three layers make sure none outlives the bench: every scenario stops what it started
/// (also on error, via `defer`); SIGINT/SIGTERM/SIGHUP kill every registered child before
/// exiting; and, where util-linux `setpriv` exists, each child gets PDEATHSIG=KILL, so
/// even a SIGKILLed bench takes its children with it. `scripts/bench` also kills any
/// pid left in the pid file.

/// Live child pids, readable from a signal handler (a fixed table: no allocation, no lock).
private let childTableSize = 1024
nonisolated(unsafe) private let childTable: UnsafeMutablePointer<pid_t> = {
    let p = UnsafeMutablePointer<pid_t>.allocate(capacity: childTableSize)
    p.initialize(repeating: 0, count: childTableSize)
    return p
}()

/// Where pids are appended for `scripts/bench`'s last-resort cleanup (nil: none).
nonisolated(unsafe) var pidFilePath: String?

private func registerChild(_ pid: pid_t) {
    for i in 0..<childTableSize where childTable[i] == 0 {
        childTable[i] = pid
        break
    }
    if let path = pidFilePath, let h = FileHandle(forWritingAtPath: path) ?? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }() {
        h.seekToEndOfFile()
        h.write(Data("\(pid)\n".utf8))
        try? h.close()
    }
}

private func unregisterChild(_ pid: pid_t) {
    for i in 0..<childTableSize where childTable[i] == pid { childTable[i] = 0 }
}

/// Kills every registered child (SIGKILL). Async-signal-safe.
func killAllChildren() {
    for i in 0..<childTableSize {
        let p = childTable[i]
        if p > 0 { kill(p, SIGKILL) }
    }
}

/// On SIGINT, SIGTERM or SIGHUP: kill the children, then exit 128+signal.
func installSignalCleanup() {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal(sig) { s in
            killAllChildren()
            _exit(128 + s)
        }
    }
}

private let setprivPath: String? = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") ? "/usr/bin/setpriv" : nil

/// One spawned process. Spawn only from the main thread: PDEATHSIG fires when the
/// spawning *thread* ends, and the main thread lives as long as the bench.
final class ChildProcess {
    let name: String
    let pid: pid_t
    let logPath: String
    private(set) var exitStatus: Int32?

    private init(name: String, pid: pid_t, logPath: String) {
        self.name = name
        self.pid = pid
        self.logPath = logPath
    }

    /// Starts `executable arguments...` with stdin from /dev/null and stdout+stderr
    /// appended to `logPath`.
    static func spawn(name: String, executable: String, arguments: [String], logPath: String) throws -> ChildProcess {
        var argv = [executable] + arguments
        if let setpriv = setprivPath { argv = [setpriv, "--pdeathsig", "KILL", "--"] + argv }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { throw BenchError("cannot start \(name) (\(argv[0])): \(String(cString: strerror(rc)))") }
        registerChild(pid)
        return ChildProcess(name: name, pid: pid, logPath: logPath)
    }

    /// Whether it still runs (reaps it if it has exited).
    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        if rc == pid || rc < 0 {
            exitStatus = status
            unregisterChild(pid)
            return false
        }
        return true
    }

    /// SIGTERM, up to `grace` seconds to exit, then SIGKILL. Idempotent.
    func stop(grace: Double = 5) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = nowNs() + UInt64(grace * 1e9)
        while nowNs() < deadline {
            if !isRunning { return }
            sleepMs(5)
        }
        kill9()
    }

    /// SIGKILL and reap: a crash, as far as the child can tell.
    func kill9() {
        guard exitStatus == nil else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exitStatus = status
        unregisterChild(pid)
    }

    /// The last lines of its log, for error messages.
    func logTail(_ lines: Int = 15) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    var cpuSeconds: Double? { Proc.cpuSeconds(pid) }
    var rssKB: Int? { Proc.rssKB(pid) }
}
