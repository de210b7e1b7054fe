import ArgumentParser
import BatonClient
import BatonLogging
import BatonWeb
import Logging

/// `baton web`: the dashboard and Prometheus exporter. Parses arguments and starts
/// `BatonWeb.WebServer`; everything else is in that module.
struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Serve the web dashboard and the Prometheus exporter (/metrics), as a client of the broker.",
        discussion: """
            Pages: overview (STATS, LIMITS, emergency stop), workflows (LIST), one workflow (STATUS pages, live \
            through WATCH), workers (STATS). It changes nothing at the broker except on its POST forms: cancel a \
            workflow, stop, go. The overview, workers and /metrics need STATS and LIMITS, so under CURVE give it \
            an admin key (--curve-secret of a key in the broker's admins allowlist); a client key sees its own \
            workflows only.

            Page reads and /metrics make one try of --timeout-ms each (a broker that is down shows as such \
            after one timeout); cancel, stop and go are resent up to --retries times.

            It listens on loopback by default: the pages carry no login of their own, so whoever reaches the \
            port acts with this process's key. Put it behind an authenticating proxy before binding elsewhere.
            """)

    @Option(help: "HOST:PORT to serve HTTP on (port 0: any free port; the address is printed).")
    var listen = "127.0.0.1:8080"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(help: "Log lines on standard error: text (for people) or json (one object per line, for journald and log shippers).")
    var logFormat = "text"

    @OptionGroup var client: ClientOptions

    func validate() throws {
        try checkLogFormat(logFormat, flag: "--log-format")
        guard WebConfiguration.parseListen(listen) != nil else {
            throw ValidationError("--listen: \"\(listen)\" is not HOST:PORT (e.g. 127.0.0.1:8080)")
        }
    }

    func run() throws {
        let (host, port) = WebConfiguration.parseListen(listen)!
        let curve = try curveKeys(server: client.curveServer, secret: client.curveSecret).map {
            CurveClientKeys(serverKey: $0.serverKey, publicKey: $0.publicKey, secretKey: $0.secretKey)
        }
        let config = WebConfiguration(broker: client.broker, timeoutMs: try client.timeoutMs, retries: try client.retries,
                                      curve: curve, host: host, port: port)
        bootstrapLogging(level: logLevel, format: LogFormat(rawValue: logFormat) ?? .text)
        if !["127.0.0.1", "localhost", "::1"].contains(host) && !host.hasPrefix("127.") {
            printError(Style.warning("--listen \(listen): the dashboard has no login of its own; whoever reaches this port can cancel workflows and stop or go with this process's key. Put an authenticating proxy in front."))
        }
        let broker = client.broker
        do {
            try WebServer.runBlocking(config, logger: Logger(label: "baton.web")) { address in
                print("baton web: serving \(address) (broker \(broker)); /metrics for Prometheus")
            }
        } catch {
            throw RuntimeError("baton web: \(error)")
        }
    }
}
