import BatonWire
import Foundation
import ZeroMQ

/// A blocking BATON/1 client for one request at a time: probes, polling, latency
/// samples. Unlike `BatonClient` it never retries, so a slow reply shows as slow, and
/// it reconnects every 10 ms, so a restart is noticed within 10 ms.
///
/// Owned by one thread (it owns a socket).
final class WireClient {
    let socket: Socket
    private var poller: Poller
    private var counter: UInt32 = 0

    init(context: Context, endpoint: String) throws {
        socket = try context.socket(.dealer)
        try socket.setLinger(0)
        try socket.setReconnectInterval(10, max: 10)
        try socket.setSendHighWaterMark(100_000)
        try socket.setReceiveHighWaterMark(100_000)
        try socket.connect(endpoint)
        poller = try Poller([.socket(socket)])
    }

    deinit { socket.close(linger: 0) }

    /// Sends a request; returns its tag.
    @discardableResult
    func send(_ command: ClientCommand, bodyBytes: [UInt8]) throws -> [UInt8] {
        counter &+= 1
        let tag = withUnsafeBytes(of: counter.littleEndian) { Array($0) }
        try socket.send([[], ClientFrames.protocolId, Array(command.rawValue.utf8), tag, bodyBytes])
        return tag
    }

    /// The reply with `tag`, or nil after `timeoutMs`. Replies with other tags (late
    /// answers to earlier probes) are dropped.
    func awaitReply(tag: [UInt8], timeoutMs: Int) throws -> ClientFrames.Reply? {
        let deadline = nowNs() + UInt64(timeoutMs) * 1_000_000
        while true {
            while let frames = try socket.receive(dontWait: true) {
                let reply = try ClientFrames.decodeReply(frames)
                if reply.tag == tag { return reply }
            }
            let now = nowNs()
            if now >= deadline { return nil }
            _ = try poller.poll(timeoutMs: Int((deadline - now + 999_999) / 1_000_000))
        }
    }

    /// Whether a reply of kind `command` (any tag) arrives within `timeoutMs`.
    func awaitAny(_ command: ReplyCommand, timeoutMs: Int) throws -> Bool {
        let deadline = nowNs() + UInt64(timeoutMs) * 1_000_000
        while true {
            while let frames = try socket.receive(dontWait: true) {
                if try ClientFrames.decodeReply(frames).command == command { return true }
            }
            let now = nowNs()
            if now >= deadline { return false }
            _ = try poller.poll(timeoutMs: Int((deadline - now + 999_999) / 1_000_000))
        }
    }

    func request(_ command: ClientCommand, bodyBytes: [UInt8], timeoutMs: Int = 10_000) throws -> ClientFrames.Reply {
        let tag = try send(command, bodyBytes: bodyBytes)
        guard let reply = try awaitReply(tag: tag, timeoutMs: timeoutMs) else {
            throw BenchError("\(command.rawValue): no reply within \(timeoutMs) ms")
        }
        return reply
    }

    func request(_ command: ClientCommand, _ body: JSONValue, timeoutMs: Int = 10_000) throws -> ClientFrames.Reply {
        try request(command, bodyBytes: JSONWriter.bytes(body), timeoutMs: timeoutMs)
    }

    /// A request whose reply must be `expect`; an ERROR or anything else throws.
    func call(_ command: ClientCommand, _ body: JSONValue, expect: ReplyCommand, timeoutMs: Int = 10_000) throws -> [String: JSONValue] {
        let reply = try request(command, body, timeoutMs: timeoutMs)
        guard reply.command == expect else { throw BenchError("\(command.rawValue): got \(describe(reply))") }
        return reply.body
    }

    /// How many workflows named `name` are in `state`, up to `limit` (LIST pages).
    func count(name: String, state: WorkflowState, limit: Int = .max) throws -> Int {
        var total = 0
        var before: String?
        while total < limit {
            var q: [String: JSONValue] = ["name": .string(name), "state": .string(state.rawValue), "limit": 1000]
            if let before { q["before"] = .string(before) }
            let body = try call(.list, .object(q), expect: .list)
            total += body["workflows"]?.arrayValue?.count ?? 0
            guard let next = body["next"]?.stringValue else { break }
            before = next
        }
        return total
    }

    /// Whether any workflow named `name` is SUBMITTED or RUNNING (one LIST per state).
    func anyUnfinished(name: String) throws -> Bool {
        for state in [WorkflowState.running, .submitted] {
            let body = try call(.list, ["name": .string(name), "state": .string(state.rawValue), "limit": 1], expect: .list)
            if let rows = body["workflows"]?.arrayValue, !rows.isEmpty { return true }
        }
        return false
    }

    /// Polls every `everyMs` until no workflow named `name` is unfinished; returns the
    /// monotonic time of the reply that showed it.
    func waitAllFinished(name: String, everyMs: Double = 5, timeoutSeconds: Double) throws -> UInt64 {
        let deadline = nowNs() + UInt64(timeoutSeconds * 1e9)
        while true {
            if try !anyUnfinished(name: name) { return nowNs() }
            if nowNs() > deadline {
                let running = try count(name: name, state: .running)
                let submitted = try count(name: name, state: .submitted)
                throw BenchError("stalled: after \(timeoutSeconds) s, \(running) workflow(s) \(name) still RUNNING and \(submitted) SUBMITTED")
            }
            sleepMs(everyMs)
        }
    }
}

/// A reply in a line, for error messages.
func describe(_ reply: ClientFrames.Reply) -> String {
    if reply.command == .error {
        return "ERROR \(reply.body["code"]?.stringValue ?? "?"): \(reply.body["message"]?.stringValue ?? "")"
    }
    return reply.command.rawValue
}

/// A real `baton broker` process on a database in its own temporary directory.
final class BrokerProcess {
    let baton: String
    let dir: String
    let dbPath: String
    /// `--config` for the broker, if any.
    let config: String?
    let clientPort: Int
    let workerPort: Int
    private(set) var process: ChildProcess?
    private var starts = 0

    var clientEndpoint: String { "tcp://127.0.0.1:\(clientPort)" }
    var workerEndpoint: String { "tcp://127.0.0.1:\(workerPort)" }
    var pid: pid_t { process?.pid ?? 0 }

    /// A broker in a new directory under `root`; `dbPath` defaults to `<dir>/baton.db`.
    init(baton: String, root: String, dbPath: String? = nil, config: String? = nil) throws {
        self.baton = baton
        self.config = config
        dir = try makeTempDir(root, "broker")
        self.dbPath = dbPath ?? "\(dir)/baton.db"
        let ports = try freePorts(2)
        clientPort = ports[0]
        workerPort = ports[1]
    }

    /// SUBMITTED workflows one owner may hold: the SUBMIT runs store hundreds of thousands
    /// never EXEC'd, which the default quota (10,000) refuses as `rate_limited`.
    static let maxSubmitted = 100_000_000

    /// Starts the process and waits until it answers PING; returns the seconds from
    /// spawn to PONG.
    @discardableResult
    func start(timeoutSeconds: Double = 60) throws -> Double {
        precondition(process == nil || !(process!.isRunning), "broker already running")
        starts += 1
        let context = try Context()
        let probe = try WireClient(context: context, endpoint: clientEndpoint)
        let t0 = nowNs()
        let p = try ChildProcess.spawn(
            name: "broker", executable: baton,
            arguments: ["broker", "--clients", clientEndpoint, "--workers", workerEndpoint, "--db", dbPath,
                        "--log-level", "warning", "--max-submitted", String(Self.maxSubmitted)]
                + (config.map { ["--config", $0] } ?? []),
            logPath: "\(dir)/broker.log")
        process = p
        let deadline = t0 + UInt64(timeoutSeconds * 1e9)
        while true {
            // Any PONG will do: PINGs sent before the broker listened wait in the socket's
            // pipe and are all answered once it connects.
            try probe.send(.ping, bodyBytes: Array("{}".utf8))
            if try probe.awaitAny(.pong, timeoutMs: 50) {
                return Double(nowNs() - t0) / 1e9
            }
            guard p.isRunning else {
                throw BenchError("the broker exited during start; \(p.logPath) ends with:\n\(p.logTail())")
            }
            guard nowNs() < deadline else {
                throw BenchError("the broker did not answer PING within \(timeoutSeconds) s; log:\n\(p.logTail())")
            }
        }
    }

    /// SIGTERM (graceful), then SIGKILL after 5 s.
    func stop() { process?.stop() }

    /// SIGKILL: a crash.
    func kill9() { process?.kill9() }

    /// Stops the process and removes its directory (and database).
    func destroy() {
        stop()
        removeTree(dir)
    }

    var cpuSeconds: Double { process?.cpuSeconds ?? 0 }
    var rssKB: Int { process?.rssKB ?? 0 }

    func startWorkers(_ count: Int, capacity: Int = 64) throws -> [ChildProcess] {
        var out: [ChildProcess] = []
        do {
            for n in 0..<count {
                out.append(try ChildProcess.spawn(
                    name: "worker-\(n)", executable: baton,
                    arguments: ["worker", "--broker", workerEndpoint, "--types", "echo", "--capacity", String(capacity),
                                "--name", "bench-\(n)", "--log-level", "warning"],
                    logPath: "\(dir)/worker-\(n).log"))
            }
        } catch {
            for w in out { w.stop() }
            throw error
        }
        return out
    }
}

/// Stops workers (SIGTERM: each sends DISCONNECT first).
func stopAll(_ workers: [ChildProcess]) {
    for w in workers { kill(w.pid, SIGTERM) }
    for w in workers { w.stop() }
}
