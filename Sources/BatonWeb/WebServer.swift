import Foundation
import Hummingbird
import Logging

/// Runs the dashboard: an HTTP server on Hummingbird whose pages are read from the broker
/// over the wire. It runs anywhere a client can reach the broker, and adds nothing to the
/// broker's process: the broker's event loop never sees HTTP.
public enum WebServer {
    /// Serves until SIGINT or SIGTERM (graceful: open streams end within one WATCH wait).
    /// `onListening` gets the address actually bound (`http://127.0.0.1:PORT`).
    public static func run(_ config: WebConfiguration, logger: Logger,
                           onListening: @escaping @Sendable (String) -> Void) async throws {
        let dashboard = Dashboard(config, logger: logger)
        defer { dashboard.shutdown() }
        let app = Application(
            router: dashboard.router(),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "baton-web"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.port
                let host = config.host.contains(":") ? "[\(config.host)]" : config.host
                onListening("http://\(host):\(port)")
            },
            logger: logger)
        try await app.runService()
    }

    /// `run` for a caller that is not async (the CLI): blocks until the server stops and
    /// rethrows what stopped it.
    public static func runBlocking(_ config: WebConfiguration, logger: Logger,
                                   onListening: @escaping @Sendable (String) -> Void) throws {
        let outcome = LockedValue<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await run(config, logger: logger, onListening: onListening)
                _ = outcome.exchange(.success(()))
            } catch {
                _ = outcome.exchange(.failure(error))
            }
            done.signal()
        }
        done.wait()
        try outcome.exchange(nil)?.get()
    }
}
