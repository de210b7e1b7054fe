/// How a broker is set up. The CLI fills it from flags.
public struct BrokerOptions: Sendable {
    public var clientEndpoint = "tcp://127.0.0.1:5555"
    public var workerEndpoint = "tcp://127.0.0.1:5556"
    /// SQLite file; nil for an in-memory database (tests only: nothing survives).
    public var databasePath: String? = "./baton.db"
    public var heartbeatMs: Int64 = 1000
    public var ttlMs: Int64 = 86_400_000
    /// Largest request body answered; larger ones get ERROR too_large. Messages over 16x
    /// this are cut off by ZMQ_MAXMSGSIZE (the peer is disconnected, no reply possible).
    public var maxMessageBytes = 1 << 20
    /// Most messages read from each socket in one turn: bounds a turn's latency while
    /// letting batches (and so group commits) grow under load.
    public var maxBatch = 2048
    /// Z85 CURVE secret key: when set, both endpoints are CURVE servers (encrypted; peers
    /// must know the broker's public key). No ZAP handler: client keys are not checked.
    public var curveSecretKey: String?

    public init() {}
}
