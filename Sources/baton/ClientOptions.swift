import ArgumentParser
import Foundation

/// Options every client command takes. Each has an environment variable that stands in
/// for it (a flag given wins), so a shell or CI job sets the broker and keys once.
struct ClientOptions: ParsableArguments {
    static let defaultBroker = "tcp://127.0.0.1:5555"

    @Option(name: .customLong("broker"), help: "The broker's client endpoint (default $BATON_BROKER, else \(defaultBroker)).")
    var brokerFlag: String?

    @Option(name: .customLong("timeout-ms"), help: "Milliseconds to wait for each reply before retrying on a fresh socket (default $BATON_TIMEOUT_MS, else 5000).")
    var timeoutFlag: Int?

    @Option(name: .customLong("retries"), help: "Tries per request before giving up (default $BATON_RETRIES, else 3).")
    var retriesFlag: Int?

    @Option(name: [.customLong("curve-server"), .customLong("curve-server-key")],
            help: "The broker's public certificate (its NAME.key) or Z85 public key, when the broker runs CURVE (default $BATON_CURVE_SERVER).")
    var curveServerFlag: String?

    @Option(name: .customLong("curve-secret"),
            help: "This client's secret certificate (NAME.key_secret); its NAME.key must be in the broker's clients or admins allowlist (default $BATON_CURVE_SECRET).")
    var curveSecretFlag: String?

    var broker: String { brokerFlag ?? environment("BATON_BROKER") ?? Self.defaultBroker }
    var curveServer: String? { curveServerFlag ?? environment("BATON_CURVE_SERVER") }
    var curveSecret: String? { curveSecretFlag ?? environment("BATON_CURVE_SECRET") }

    var timeoutMs: Int {
        get throws { try timeoutFlag ?? environmentInt("BATON_TIMEOUT_MS") ?? 5000 }
    }

    var retries: Int {
        get throws { try retriesFlag ?? environmentInt("BATON_RETRIES") ?? 3 }
    }

    func validate() throws {
        try checkEndpoint(broker, flag: brokerFlag != nil ? "--broker" : "BATON_BROKER")
        guard try timeoutMs >= 1 else { throw ValidationError("--timeout-ms must be at least 1") }
        guard try retries >= 1 else { throw ValidationError("--retries must be at least 1") }
    }
}

/// An environment variable's value; unset and empty are the same (so `BATON_BROKER=` in
/// a CI file does not mean "the endpoint named nothing").
func environment(_ name: String) -> String? {
    guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
    return v
}

func environmentInt(_ name: String) throws -> Int? {
    guard let text = environment(name) else { return nil }
    guard let n = Int(text) else { throw ValidationError("\(name): \"\(text)\" is not a whole number") }
    return n
}

/// ZeroMQ endpoints as Baton takes them. A bare `HOST:PORT` is the common slip; libzmq
/// would answer it with a bare EINVAL ("Invalid argument"), so it is named here.
func checkEndpoint(_ endpoint: String, flag: String) throws {
    let transports = ["tcp://", "ipc://", "inproc://"]
    guard let transport = transports.first(where: endpoint.hasPrefix) else {
        throw ValidationError("\(flag): \"\(endpoint)\" is not an endpoint; endpoints look like tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555)")
    }
    let rest = endpoint.dropFirst(transport.count)
    guard !rest.isEmpty else { throw ValidationError("\(flag): \"\(endpoint)\" names no address; endpoints look like tcp://HOST:PORT") }
    if transport == "tcp://" {
        guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex,
              rest[rest.index(after: colon)...] == "*" || UInt16(rest[rest.index(after: colon)...]) != nil else {
            throw ValidationError("\(flag): \"\(endpoint)\" has no port; endpoints look like tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555)")
        }
    }
}
