import BatonStore
import BatonWire
import Logging
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The broker process's event loop: the thin part around the engine.
///
/// Each turn: wait on both sockets; drain what is pending (bounded); feed it to the
/// engine; commit the turn's writes in ONE transaction; only then send replies, job
/// dispatches and deferred reads. One fsync per turn, never a reply before its commit.
///
/// `run()` blocks its thread (zmq_poll); start it on a thread of its own, never on the
/// Swift concurrency pool. `requestStop()` may be called from any thread or signal
/// handler context (it only writes a byte to a pipe).
public final class BrokerServer: @unchecked Sendable {
    public let options: BrokerOptions
    private let logger: Logger
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// Set once the sockets are bound; read by tests and the CLI after `onReady`.
    public private(set) var clientEndpoint = ""
    public private(set) var workerEndpoint = ""

    public init(options: BrokerOptions, logger: Logger) throws {
        self.options = options
        self.logger = logger
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BrokerError.system("pipe", errno) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Asks the loop to stop after its current turn (graceful: the turn commits, workers
    /// get DISCONNECT, sockets close).
    public func requestStop() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    /// Runs until `requestStop()`. `onReady` is called once the sockets are bound and
    /// the state is restored, with the bound endpoints (wildcard ports resolved).
    public func run(onReady: (String, String) -> Void = { _, _ in }) throws {
        let store = try Store(path: options.databasePath, exclusive: true)
        var engine = Engine(
            config: EngineConfig(heartbeatMs: options.heartbeatMs, ttlMs: options.ttlMs),
            lookupKey: { try store.workflow(idempotencyKey: $0) })
        let reads = ReadSide(store: store, pageSize: engine.config.watchPageSize)

        let context = try Context()
        let clients = try makeRouter(context, bind: options.clientEndpoint)
        let workers = try makeRouter(context, bind: options.workerEndpoint)
        clientEndpoint = try clients.lastEndpoint
        workerEndpoint = try workers.lastEndpoint
        defer {
            clients.close(linger: 1000)
            workers.close(linger: 1000)
        }

        let active = try store.loadActive()
        engine.restore(active, now: Clock.nowMs())
        logger.info("restored \(active.count) unfinished workflow(s) from \(options.databasePath ?? ":memory:")")
        var turn = Turn(engine: engine, store: store, reads: reads, clients: clients, workers: workers, logger: logger)
        turn.commitAndSend(turn.engine.finishTurn(now: Clock.nowMs()))
        onReady(clientEndpoint, workerEndpoint)
        logger.info("serving clients on \(clientEndpoint), workers on \(workerEndpoint)")

        var poller = try Poller([.socket(clients), .socket(workers), .fd(wakeRead)])
        while true {
            let wait = max(0, min(turn.engine.nextDeadline() - Clock.nowMs(), 1000))
            let ready = try poller.poll(timeoutMs: Int(wait))
            if ready[2] { break }
            turn.engine.beginTurn()
            let now = Clock.nowMs()
            turn.dropUnreachableWorkers(now: now)
            try turn.drainClients(max: options.maxBatch, maxBody: options.maxMessageBytes, now: now)
            try turn.drainWorkers(max: options.maxBatch, now: now)
            turn.engine.tick(now: now)
            turn.commitAndSend(turn.engine.finishTurn(now: now))
        }

        logger.info("stopping: telling workers to disconnect")
        turn.engine.disconnectAllWorkers(reason: "broker shutting down")
        turn.commitAndSend(turn.engine.finishTurn(now: Clock.nowMs()))
    }

    private func makeRouter(_ context: Context, bind endpoint: String) throws -> Socket {
        let s = try context.socket(.router)
        try s.setRouterMandatory(true)
        try s.setMaxMessageSize(Int64(options.maxMessageBytes) * 16)
        try s.setSendHighWaterMark(100_000)
        try s.setReceiveHighWaterMark(100_000)
        try s.setLinger(1000)
        if let key = options.curveSecretKey { try s.setCurveServer(secretKey: key) }
        try s.bind(endpoint)
        return s
    }
}

/// Errors of the broker process itself (not of requests).
public enum BrokerError: Error, CustomStringConvertible {
    case system(String, Int32)

    public var description: String {
        switch self {
        case .system(let call, let err): "\(call) failed: \(String(cString: strerror(err)))"
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch: the engine's `now`.
public enum Clock {
    public static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
