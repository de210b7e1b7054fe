import ArgumentParser
import BatonBroker
import BatonConfig
@preconcurrency import Dispatch
import Foundation
import Logging
import ZeroMQ

struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Run the broker: the ROUTER endpoints, the engine and the SQLite store.",
        discussion: """
            Every flag has a key in the --config file (snake_case: --heartbeat-ms is heartbeat_ms); a flag \
            given here overrides its key. SIGHUP re-reads the file: policies and limits change at once, a \
            bad file keeps the running config (and says why in the log), other keys need a restart.
            """)

    @Option(help: "Config file (YAML): settings, policies and rate limits; see examples/baton.yaml. Without one everything is allowed.")
    var config: String?

    @Option(help: "Endpoint clients connect to (default tcp://127.0.0.1:5555).")
    var clients: String?

    @Option(help: "Endpoint workers connect to (default tcp://127.0.0.1:5556).")
    var workers: String?

    @Option(help: "SQLite database file, created if missing (default ./baton.db).")
    var db: String?

    @Option(help: "Heartbeat interval with workers, ms; a worker silent for 3 intervals is lost (default 1000).")
    var heartbeatMs: Int64?

    @Option(help: "Seconds a SUBMITTED workflow waits for EXEC before it expires (default 86400).")
    var ttlSeconds: Int64?

    @Option(help: "Largest request body answered, in bytes; larger: ERROR too_large (default 1048576).")
    var maxMessageBytes: Int?

    @Option(help: "File holding the broker's Z85 CURVE secret key (see `baton keygen`): both endpoints then require CURVE.")
    var curveSecretKeyFile: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info).")
    var logLevel: String?

    func validate() throws {
        if let heartbeatMs { guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10") } }
        if let ttlSeconds { guard ttlSeconds >= 1 else { throw ValidationError("--ttl-seconds must be at least 1") } }
        if let maxMessageBytes { guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") } }
        if let logLevel, !BrokerSettings.logLevels.contains(logLevel) {
            throw ValidationError("--log-level: \"\(logLevel)\" is not a level (\(BrokerSettings.logLevels.joined(separator: ", ")))")
        }
    }

    func run() throws {
        let file = try config.map(loadConfig) ?? BrokerConfig()
        let settings = file.settings
        bootstrapLogging(level: logLevel ?? settings.logLevel ?? "info")
        let logger = Logger(label: "baton.broker")
        var options = BrokerOptions()
        options.clientEndpoint = clients ?? settings.clients ?? options.clientEndpoint
        options.workerEndpoint = workers ?? settings.workers ?? options.workerEndpoint
        let database = db ?? settings.db ?? "./baton.db"
        options.databasePath = database
        options.heartbeatMs = heartbeatMs ?? settings.heartbeatMs ?? options.heartbeatMs
        options.ttlMs = (ttlSeconds ?? settings.ttlSeconds ?? 86_400) * 1000
        options.maxMessageBytes = maxMessageBytes ?? settings.maxMessageBytes ?? options.maxMessageBytes
        options.runtime = RuntimeSettings(file)
        options.emergencyStopFile = file.emergencyStopFile
        if let keyFile = curveSecretKeyFile ?? settings.curveSecretKeyFile {
            let flag = curveSecretKeyFile != nil ? "--curve-secret-key-file" : "curve_secret_key_file"
            let secret = try readKey(keyFile, flag: flag)
            let publicKey = try CurveKeyPair.publicKey(forSecret: secret)
            options.curveSecretKey = secret
            logger.info("CURVE on: broker public key \(publicKey)")
        }
        if let config { logger.info("config \(config): \(file.policies.count) polic(ies), \(file.limits.count) limit(s)") }
        let dir = URL(fileURLWithPath: database).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let server = try BrokerServer(options: options, logger: logger)
        let signals = SignalStopper(onSignal: { name in
            logger.info("\(name): finishing the current turn and stopping")
            server.requestStop()
        })
        let reloads = config.map { path in
            SignalReloader { reload(path, running: file, into: server, logger: logger) }
        }
        try server.run()
        withExtendedLifetime((signals, reloads)) {}
        logger.info("broker stopped")
    }

    private func loadConfig(_ path: String) throws -> BrokerConfig {
        do {
            return try BrokerConfig.load(file: path)
        } catch {
            throw ValidationError("--config: \(error)")
        }
    }
}

/// SIGHUP: re-reads the config file. Policies and limits take effect at once; a bad file
/// keeps what runs (and the log says why); keys that need a restart are named.
private func reload(_ path: String, running: BrokerConfig, into server: BrokerServer, logger: Logger) {
    let new: BrokerConfig
    do {
        new = try BrokerConfig.load(file: path)
    } catch {
        logger.error("SIGHUP: \(error); keeping the config in force")
        return
    }
    if new.settings != running.settings || new.emergencyStopFile != running.emergencyStopFile {
        logger.warning("SIGHUP: \(path) changes broker settings (endpoints, database, heartbeat, ...): those take effect at the next restart")
    }
    logger.info("SIGHUP: reloaded \(path)")
    server.reconfigure(RuntimeSettings(new))
}

/// Runs `onHangUp` (on a Dispatch queue) at each SIGHUP while it lives.
final class SignalReloader {
    private let source: any DispatchSourceSignal

    init(onHangUp: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: onHangUp)
        source.resume()
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
