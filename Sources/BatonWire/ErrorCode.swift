/// The stable error codes of an ERROR reply. Clients branch on these, never on messages.
public enum ErrorCode: String, Sendable, CaseIterable {
    /// The request is malformed: missing frames, invalid JSON or UTF-8, a wrong or missing field.
    case badRequest = "bad_request"
    /// The protocol id frame is not `BATON/1` (another protocol, or another version).
    case unsupportedVersion = "unsupported_version"
    /// The command frame names no command of this protocol.
    case unknownCommand = "unknown_command"
    /// The message exceeds the broker's size limit.
    case tooLarge = "too_large"
    /// No workflow has that id.
    case notFound = "not_found"
    /// The request contradicts stored state (same idempotency key, different spec).
    case conflict = "conflict"
    /// A policy refuses the workflow.
    case policyDenied = "policy_denied"
    /// An emergency stop is in force.
    case stopped = "stopped"
    /// The caller may not do this.
    case forbidden = "forbidden"
    /// The broker cannot serve now (storage failing, shutting down); retry later.
    case unavailable = "unavailable"
    /// A rate limit refused the request; retry later.
    case rateLimited = "rate_limited"
}

/// An error that reaches the wire as `ERROR {"code", "message", ...details}`.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String
    /// Fields some codes carry beside the message, for programs: `retry_after_ms` with
    /// `rate_limited`; `name` and `reason` with `stopped`; `policy` and `rule` with
    /// `policy_denied`. They never replace `code` or `message`.
    public let details: [String: JSONValue]

    public init(_ code: ErrorCode, _ message: String, details: [String: JSONValue] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// `rate_limited`, telling the client when to try again.
    public static func rateLimited(_ message: String, retryAfterMs: Int64) -> WireError {
        WireError(.rateLimited, message, details: ["retry_after_ms": .int(max(1, retryAfterMs))])
    }

    public var body: JSONValue {
        var o = details
        o["code"] = .string(code.rawValue)
        o["message"] = .string(message)
        return .object(o)
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
