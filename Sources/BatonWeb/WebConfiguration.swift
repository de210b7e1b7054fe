import BatonClient

/// What `baton web` was started with: the broker it is a client of, and where it listens.
public struct WebConfiguration: Sendable {
    /// The broker's client endpoint, e.g. `tcp://127.0.0.1:5555`.
    public var broker: String
    public var timeoutMs: Int
    public var retries: Int
    /// CURVE keys (nil: plain tcp). An admin key enables the stop/go forms.
    public var curve: CurveClientKeys?
    /// Host (or address) and port to listen on; port 0 picks a free one.
    public var host: String
    public var port: Int
    /// Threads (one broker connection each) for page reads and actions.
    public var requestThreads: Int
    /// Threads for live updates: each open live page holds one WATCH long-poll on one of
    /// these; more open live pages than this get "try again" and poll instead.
    public var liveThreads: Int

    public init(broker: String, timeoutMs: Int = 5000, retries: Int = 3, curve: CurveClientKeys? = nil,
                host: String = "127.0.0.1", port: Int = 8080, requestThreads: Int = 4, liveThreads: Int = 8) {
        self.broker = broker
        self.timeoutMs = timeoutMs
        self.retries = retries
        self.curve = curve
        self.host = host
        self.port = port
        self.requestThreads = requestThreads
        self.liveThreads = liveThreads
    }

    /// `HOST:PORT` (`[::1]:8080` for IPv6) → (host, port); nil when it is not that shape.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}
