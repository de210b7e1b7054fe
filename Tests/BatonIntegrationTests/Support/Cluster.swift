import BatonClient
import Foundation
import XCTest

/// Real `baton` processes for end-to-end tests, on 127.0.0.1 and free ports. Every
/// process a test starts is ended in `stopAll()` (call it from tearDown).
final class Cluster: @unchecked Sendable {
    let dir: URL
    let clientPort: Int
    let workerPort: Int
    private(set) var processes: [Process] = []
    private(set) var broker: Process?
    /// The keys the readiness PING uses, when the test runs the broker with CURVE (a
    /// client or admin key the broker lists).
    var curve: CurveClientKeys?

    var clientEndpoint: String { "tcp://127.0.0.1:\(clientPort)" }
    var workerEndpoint: String { "tcp://127.0.0.1:\(workerPort)" }
    var dbPath: String { dir.appendingPathComponent("baton.db").path }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        clientPort = try freePort()
        workerPort = try freePort()
    }

    /// The `baton` executable: $BATON_BIN, or the debug build next to the sources.
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["BATON_BIN"] { return b }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/baton").path
    }

    /// Starts `baton ARGS` with stdout and stderr appended to `log` (a file: never a
    /// terminal). `environment` adds to (or, with nil, removes from) the inherited one.
    @discardableResult
    func start(_ args: [String], log: String, environment: [String: String?] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            p.environment = env
        }
        p.currentDirectoryURL = dir
        let logURL = dir.appendingPathComponent(log)
        if !FileManager.default.fileExists(atPath: logURL.path) {
            FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: logURL)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        processes.append(p)
        return p
    }

    /// Starts the broker and waits until it answers PING.
    @discardableResult
    func startBroker(db: String? = nil, extra: [String] = []) throws -> Process {
        let p = try start(["broker", "--clients", clientEndpoint, "--workers", workerEndpoint, "--db", db ?? dbPath,
                           "--heartbeat-ms", "200"] + extra, log: "broker.log")
        broker = p
        try waitForBroker()
        return p
    }

    /// Starts `baton worker`. `fileRoot` (the file types' `--file-root`) is needed for
    /// `file.write` and `append`.
    @discardableResult
    func startWorker(types: String = "echo,sleep,fail", capacity: Int = 2, name: String,
                     fileRoot: String? = nil, extra: [String] = []) throws -> Process {
        try start(["worker", "--broker", workerEndpoint, "--types", types, "--capacity", "\(capacity)", "--name", name]
                  + (fileRoot.map { ["--file-root", $0] } ?? []) + extra,
                  log: "worker-\(name).log")
    }

    func waitForBroker(timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let c = try BatonClient(endpoint: clientEndpoint, timeoutMs: 300, attempts: 1, curve: curve)
            defer { c.close() }
            if (try? c.ping()) != nil { return }
            if let b = broker, !b.isRunning { throw TestFailure("broker exited early:\n\(log("broker.log"))") }
        }
        throw TestFailure("broker did not answer PING within \(timeout) s:\n\(log("broker.log"))")
    }

    func client(timeoutMs: Int = 5000) throws -> BatonClient {
        try BatonClient(endpoint: clientEndpoint, timeoutMs: timeoutMs, attempts: 3)
    }

    /// Runs a `baton` client command against this cluster's broker to its end: its exit
    /// code and everything it printed.
    func baton(_ args: [String], log: String, environment: [String: String?] = [:]) throws -> (Int32, String) {
        let p = try start(args + ["--broker", clientEndpoint], log: log, environment: environment)
        p.waitUntilExit()
        return (p.terminationStatus, self.log(log))
    }

    /// Runs `baton ARGS` as given (no `--broker` added) to its end: exit code and output.
    func batonExactly(_ args: [String], log: String, environment: [String: String?] = [:]) throws -> (Int32, String) {
        let p = try start(args, log: log, environment: environment)
        p.waitUntilExit()
        return (p.terminationStatus, self.log(log))
    }

    /// Writes `json` to a file in the cluster's directory; returns its name (relative:
    /// the processes run there).
    func writeFile(_ name: String, _ text: String) throws -> String {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        return name
    }

    /// Polls `condition` every 20 ms for up to `seconds` (a bound against hangs).
    func waitFor(_ what: String, seconds: TimeInterval = 20, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestFailure("not within \(seconds) s: \(what)")
    }

    func kill9(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    func stopAll() {
        for p in processes where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        processes = []
        try? FileManager.default.removeItem(at: dir)
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)) ?? "(no \(name))"
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A port nothing listens on right now (the kernel picks it; we release it at once).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    guard bound == 0 else { throw TestFailure("bind failed") }
    let named = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    guard named == 0 else { throw TestFailure("getsockname failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
