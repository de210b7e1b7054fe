import Foundation
import XCTest

/// Three hosts on a real (virtual) network, for tests that must cross one: the network
/// namespaces `a`, `b` and `c`, each of `b` and `c` joined to `a` by its own veth pair.
///
///     b  10.213.1.2 ──veth── 10.213.1.1  a  10.213.2.1 ──veth── 10.213.2.2  c
///
/// Services in `a` bind `brokerAddress` (10.213.1.1). `c` reaches it by a route through
/// 10.213.2.1; `a` delivers it locally (every address of a host is its own), so nothing
/// forwards. The addresses exist only inside the namespaces, so they cannot clash with
/// the machine's own; the namespaces are named with the pid and a random suffix, so
/// parallel runs and leftovers of a killed run cannot clash either. The veths are made
/// inside the namespaces, so the machine's own namespace never holds one, and deleting
/// the namespaces deletes them.
///
/// Needs root and iproute2 (`skipUnlessAvailable`). A process started here runs
/// `ip netns exec NS baton ...`; `ip` execs the command in place (iproute2's `cmd_exec`
/// forks only in batch mode), so the `Process` is the baton process itself. `tearDown()`
/// kills those, then anything else left in the namespaces (`ip netns pids`), deletes the
/// namespaces and reports any that survived.
final class NetworkHosts {
    enum Host: String, CaseIterable { case a, b, c }

    static let brokerAddress = "10.213.1.1"
    static let workerAddress = "10.213.1.2"
    static let clientAddress = "10.213.2.2"

    let dir: URL
    private let prefix: String
    private let ip: String
    private var built: [Host] = []
    private var processes: [Process] = []

    /// Skips the test, printing why, unless it can build namespaces: root and `ip` are needed.
    static func skipUnlessAvailable() throws {
        var reason: String?
        if geteuid() != 0 {
            reason = "network namespaces need root (euid \(geteuid()))"
        } else if ipBinary() == nil {
            reason = "iproute2's `ip` is not installed"
        }
        if let reason {
            print("NetworkNamespaceTests skipped: \(reason)")
            throw XCTSkip(reason)
        }
    }

    /// Builds the three hosts; on failure it removes what it built before throwing.
    init() throws {
        guard let ip = Self.ipBinary() else { throw TestFailure("no `ip` binary") }
        self.ip = ip
        prefix = "baton-it-\(getpid())-\(UInt32.random(in: 0...0xFFFF))-"
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-netns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        do {
            try build()
        } catch {
            let problems = tearDown()
            throw TestFailure("building the namespaces failed: \(error)\(problems.isEmpty ? "" : "; " + problems.joined(separator: "; "))")
        }
    }

    func namespace(_ host: Host) -> String { prefix + host.rawValue }

    private func build() throws {
        for host in Host.allCases {
            try run(ip, ["netns", "add", namespace(host)])
            built.append(host)
            try run(ip, ["-n", namespace(host), "link", "set", "lo", "up"])
        }
        try link(.a, "10.213.1.1/24", to: .b, "10.213.1.2/24")
        try link(.a, "10.213.2.1/24", to: .c, "10.213.2.2/24")
        try run(ip, ["-n", namespace(.c), "route", "add", "10.213.1.0/24", "via", "10.213.2.1"])
    }

    /// A veth pair made inside `host` with its peer moved straight into `peer`: the
    /// end in `host` is named `to-<peer>`, the other `to-<host>`.
    private func link(_ host: Host, _ address: String, to peer: Host, _ peerAddress: String) throws {
        let near = "to-\(peer.rawValue)", far = "to-\(host.rawValue)"
        try run(ip, ["-n", namespace(host), "link", "add", near, "type", "veth", "peer", "name", far, "netns", namespace(peer)])
        try run(ip, ["-n", namespace(host), "addr", "add", address, "dev", near])
        try run(ip, ["-n", namespace(peer), "addr", "add", peerAddress, "dev", far])
        try run(ip, ["-n", namespace(host), "link", "set", near, "up"])
        try run(ip, ["-n", namespace(peer), "link", "set", far, "up"])
    }

    // MARK: Processes

    /// Starts `baton args` on `host`, its output appended to `log` in `dir`.
    @discardableResult
    func start(on host: Host, _ args: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip)
        p.arguments = ["netns", "exec", namespace(host), Cluster.binary] + args
        p.currentDirectoryURL = dir
        let logURL = dir.appendingPathComponent(log)
        if !FileManager.default.fileExists(atPath: logURL.path) {
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: logURL)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        processes.append(p)
        return p
    }

    /// Runs `baton args` on `host` to its end: its exit code and what it printed. A
    /// command still running after `timeout` seconds is killed and fails the test (a
    /// bound against hangs, not a timing assertion).
    func baton(on host: Host, _ args: [String], log: String, timeout: TimeInterval = 20) throws -> (Int32, String) {
        let p = try start(on: host, args, log: log)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw TestFailure("`baton \(args.joined(separator: " "))` on \(host) still ran after \(timeout) s:\n\(self.log(log))")
        }
        p.waitUntilExit()
        return (p.terminationStatus, self.log(log))
    }

    /// The namespace a process runs in, as `ip netns identify` names it.
    func namespace(of pid: pid_t) throws -> String {
        try run(ip, ["netns", "identify", "\(pid)"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)) ?? "(no \(name))"
    }

    /// Polls `condition` until it holds or `timeout` seconds pass (a bound against hangs).
    func wait(_ what: String, timeout: TimeInterval = 15, until condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("\(what): not within \(timeout) s")
    }

    // MARK: Teardown

    /// Kills every process, deletes every namespace and the directory. Returns what went
    /// wrong (namespaces that survived, failed commands), for the test to fail on.
    func tearDown() -> [String] {
        var problems: [String] = []
        for p in processes where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        processes = []
        for host in built {
            // Anything a baton process started lives on in the namespace; end it too.
            let pids = ((try? run(ip, ["netns", "pids", namespace(host)])) ?? "").split(whereSeparator: \.isNewline)
            for pid in pids.compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
            do {
                try run(ip, ["netns", "del", namespace(host)])
            } catch {
                problems.append("\(error)")
            }
        }
        built = []
        do {
            let left = try run(ip, ["netns", "list"]).split(whereSeparator: \.isNewline).filter { $0.hasPrefix(prefix) }
            if !left.isEmpty { problems.append("namespaces survived the teardown: \(left.joined(separator: ", "))") }
        } catch {
            problems.append("\(error)")
        }
        try? FileManager.default.removeItem(at: dir)
        return problems
    }

    // MARK: Commands

    /// Runs a command to its end: its standard output, or a `TestFailure` with its
    /// standard error when it exits non-zero.
    @discardableResult
    private func run(_ executable: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read before waiting: a full pipe would block the command forever.
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TestFailure("`\(executable) \(args.joined(separator: " "))` exited \(p.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func ipBinary() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return dirs.map { $0 + "/ip" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
