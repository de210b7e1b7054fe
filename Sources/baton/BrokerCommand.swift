import ArgumentParser
import BatonBroker
@preconcurrency import Dispatch
import Foundation
import Logging
import ZeroMQ

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

    @Option(help: "File holding the broker's Z85 CURVE secret key (see `baton keygen`): both endpoints then require CURVE.")
    var curveSecretKeyFile: String?

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
        if let file = curveSecretKeyFile {
            let secret = try readKey(file, flag: "--curve-secret-key-file")
            let publicKey = try CurveKeyPair.publicKey(forSecret: secret)
            options.curveSecretKey = secret
            logger.info("CURVE on: broker public key \(publicKey)")
        }
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

/// Turns SIGINT and SIGTERM into a graceful stop instead of an abrupt exit. Not
/// `Sendable`: it lives on the thread that made it, which keeps it until the end.
final class SignalStopper {
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

/// Reads a Z85 key (40 characters) from a file, naming the flag when it is wrong.
func readKey(_ path: String, flag: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("\(flag): cannot read \(path)")
    }
    let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard key.utf8.count == 40 else { throw ValidationError("\(flag): \(path) must hold a 40-character Z85 key") }
    return key
}

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Make a CURVE key pair: the secret for the broker, the public key for its peers.")

    @Option(help: "Write PREFIX.secret and PREFIX.public instead of printing.") var out: String?

    func run() throws {
        guard CurveKeyPair.isSupported else { throw ValidationError("this libzmq was built without CURVE") }
        let pair = try CurveKeyPair.generate()
        if let out {
            try writeKey(pair.secretKey, to: out + ".secret", attributes: [.posixPermissions: 0o600])
            try writeKey(pair.publicKey, to: out + ".public")
            print("wrote \(out).secret (keep it on the broker) and \(out).public (give it to clients and workers)")
        } else {
            print("public \(pair.publicKey)")
            print("secret \(pair.secretKey)")
        }
    }

    /// `createFile` reports failure only by returning false (and keeps no reliable errno):
    /// unchecked, keygen reported keys it never wrote.
    private func writeKey(_ key: String, to path: String, attributes: [FileAttributeKey: Any]? = nil) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: attributes) else {
            printError("error: cannot write \(path)")
            throw ExitCode.failure
        }
    }
}
