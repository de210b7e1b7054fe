import BatonKeys

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
    /// SUBMITTED workflows one key (one quota for all in plain mode) may have at once.
    public var maxSubmittedPerOwner = 10_000
    /// Most messages read from each socket in one turn: bounds a turn's latency. Small
    /// enough that a burst spreads over several turns, which the committer then commits
    /// while the loop decides the next ones (turns queued meanwhile share one commit, so
    /// group commits still grow under load). Measured with `scripts/bench`: 256 beat
    /// 128, 512 and 2048 on SUBMIT and end-to-end throughput.
    public var maxBatch = 256
    /// Bytes of unread replies one client connection may hold before the broker treats
    /// it as dropped (spec §3.4; `QueuedReplies`).
    public var maxQueuedReplyBytes = 8 << 20
    /// Z85 CURVE secret key: when set, both endpoints are CURVE servers (encrypted; peers
    /// must know the broker's public key) and the ZAP handler admits only the keys of
    /// `keys` whose roles fit the endpoint (spec §3.5).
    public var curveSecretKey: String?
    /// The allowlists (with CURVE only). `reconfigure` replaces them.
    public var keys = KeyRing()
    /// Plain mode binds loopback only unless this is set (spec §3.5).
    public var insecure = false
    /// Policies and rate limits in force at start (`reconfigure` changes them later).
    public var runtime = RuntimeSettings()
    /// How long finished workflows are kept (ms; 0: forever). The committer deletes the
    /// older ones in small batches between turns (`Committer.Retention`).
    public var retentionMs: Int64 = 30 * 86_400_000
    /// The wall clock (tests inject one they can step; see `EngineClock`).
    public var wallClock: @Sendable () -> Int64 = WallClock.nowMs
    /// The emergency stop file to watch (workflow name or "*" -> go | stop), if any.
    public var emergencyStopFile: String?

    public init() {}
}
