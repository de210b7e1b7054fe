/// How the broker's, worker's and web server's log lines are written on standard error
/// (`--log-format`, and the broker's config key `log_format`).
public enum LogFormat: String, CaseIterable, Sendable {
    /// For people: `2026-12-05T07:57:56.123Z info baton.broker: workflow ... submitted ...`.
    case text
    /// For journald and log shippers: one JSON object per line, with the metadata as fields.
    case json

    /// The names, as the flag and the config key take them: "text, json".
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
