import ArgumentParser
import BatonBroker
@preconcurrency import Dispatch
import Foundation
import Logging

struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Run the broker: the ROUTER endpoints, the engine and the SQLite store.")

    @Option(help: "Endpoint clients connect to.")
    var clients = "tcp://127.0.0.1:5555"

    @Option(help: "Endpoint workers connect to.")
    var workers = "tcp://127.0.0.1:5556"

    @Option(help: "SQLite database file (created if missing).")
    var db = "./baton.db"

    @Option(help: "Heartbeat interval with workers, ms; a worker silent for 3 intervals is lost.")
    var heartbeatMs: Int64 = 1000

    @Option(help: "Seconds a SUBMITTED workflow waits for EXEC before it expires.")
    var ttlSeconds: Int64 = 86_400

    @Option(help: "Largest request body answered, in bytes (larger: ERROR too_large).")
    var maxMessageBytes = 1 << 20

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10") }
        guard ttlSeconds >= 1 else { throw ValidationError("--ttl-seconds must be at least 1") }
        guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") }
    }

    func run() throws {
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: "baton.broker")
        var options = BrokerOptions()
        options.clientEndpoint = clients
        options.workerEndpoint = workers
        options.databasePath = db
        options.heartbeatMs = heartbeatMs
        options.ttlMs = ttlSeconds * 1000
        options.maxMessageBytes = maxMessageBytes
        let dir = URL(fileURLWithPath: db).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let server = try BrokerServer(options: options, logger: logger)
        let signals = SignalStopper(onSignal: { name in
            logger.info("\(name): finishing the current turn and stopping")
            server.requestStop()
        })
        try server.run()
        withExtendedLifetime(signals) {}
        logger.info("broker stopped")
    }
}

/// Turns SIGINT and SIGTERM into a graceful stop instead of an abrupt exit.
final class SignalStopper: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(onSignal: @escaping @Sendable (String) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { onSignal(name) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}
