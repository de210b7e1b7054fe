/// The config keys that mirror `baton broker` flags, one each, snake_case. Nil: not in
/// the file (the flag's default applies). A flag given on the command line overrides
/// its key. Paths are used as written, relative to the broker's working directory,
/// exactly like the flags.
public struct BrokerSettings: Equatable, Sendable {
    public var clients: String?
    public var workers: String?
    public var db: String?
    public var heartbeatMs: Int64?
    public var ttlSeconds: Int64?
    public var maxMessageBytes: Int?
    public var maxSubmitted: Int?
    /// The broker's own `.key_secret` (`curve_secret`; `curve_secret_key_file` is its old name).
    public var curveSecretKeyFile: String?
    /// Directories of public certificates, one per role (spec §3.5).
    public var clientsAllow: String?
    public var workersAllow: String?
    public var adminsAllow: String?
    /// Serve non-loopback endpoints without keys.
    public var insecure: Bool?
    public var logLevel: String?
    /// `text` or `json` (`--log-format`).
    public var logFormat: String?
    /// How long finished workflows are kept, ms (0: forever); `retention: 30d`.
    public var retentionMs: Int64?

    public init() {}

    /// The flag keys, in `baton broker --help` order.
    static let keys = ["clients", "workers", "db", "heartbeat_ms", "ttl_seconds", "max_message_bytes", "max_submitted",
                       "curve_secret", "curve_secret_key_file", "clients_allow", "workers_allow", "admins_allow",
                       "insecure", "log_level", "log_format", "retention"]

    /// swift-log's level names, as `--log-level` takes them.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The log formats, as `--log-format` takes them (BatonLogging's `LogFormat`, which
    /// this module does not import: it reads the file and knows no handler).
    public static let logFormats = ["text", "json"]

    /// Reads the flag keys from the top-level mapping, with the bounds the flags have.
    init(_ c: KeyedDecodingContainer<ConfigKey>) throws {
        clients = try c.nonEmpty("clients")
        workers = try c.nonEmpty("workers")
        db = try c.nonEmpty("db")
        heartbeatMs = try c.positive("heartbeat_ms", minimum: 10).map(Int64.init)
        ttlSeconds = try c.positive("ttl_seconds", minimum: 1).map(Int64.init)
        maxMessageBytes = try c.positive("max_message_bytes", minimum: 1024)
        maxSubmitted = try c.positive("max_submitted", minimum: 1)
        let secret = try c.nonEmpty("curve_secret")
        let oldSecret = try c.nonEmpty("curve_secret_key_file")
        if secret != nil && oldSecret != nil {
            throw invalid(c.path("curve_secret_key_file"), "is the old name of curve_secret: give one of them")
        }
        curveSecretKeyFile = secret ?? oldSecret
        clientsAllow = try c.nonEmpty("clients_allow")
        workersAllow = try c.nonEmpty("workers_allow")
        adminsAllow = try c.nonEmpty("admins_allow")
        insecure = try c.optional("insecure")
        logLevel = try c.nonEmpty("log_level")
        logFormat = try c.nonEmpty("log_format")
        if let text: String = try c.nonEmpty("retention") {
            switch RetentionPeriod.parse(text) {
            case .success(let ms): retentionMs = ms
            case .failure(let error): throw invalid(c.path("retention"), error.description)
            }
        }
        if let logLevel, !Self.logLevels.contains(logLevel) {
            throw invalid(c.path("log_level"), "\"\(logLevel)\" is not a level (\(Self.logLevels.joined(separator: ", ")))")
        }
        if let logFormat, !Self.logFormats.contains(logFormat) {
            throw invalid(c.path("log_format"), "\"\(logFormat)\" is not a log format (\(Self.logFormats.joined(separator: ", ")))")
        }
    }
}

extension KeyedDecodingContainer where Key == ConfigKey {
    func nonEmpty(_ key: String) throws -> String? {
        guard let s: String = try optional(key) else { return nil }
        guard !s.isEmpty else { throw invalid(path(key), "must not be empty") }
        return s
    }
}
