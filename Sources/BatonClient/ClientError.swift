import BatonWire
import ZeroMQ

/// What a client call can fail with.
public enum ClientError: Error, CustomStringConvertible {
    /// The broker answered ERROR.
    case remote(WireError)
    /// No reply after every retry (the broker is down or unreachable).
    case timeout(command: String, attempts: Int, timeoutMs: Int)
    /// A socket call failed.
    case socket(ZMQError)
    /// The broker's reply broke the protocol (wrong command, missing field).
    case badReply(String)

    public var description: String {
        switch self {
        case .remote(let e): "broker: \(e.code.rawValue): \(e.message)"
        case .timeout(let c, let n, let ms): "\(c): no reply from the broker after \(n) attempt(s) of \(ms) ms each"
        case .socket(let e): "socket: \(e)"
        case .badReply(let why): "bad reply from the broker: \(why)"
        }
    }

    /// The wire error code, when the broker answered ERROR.
    public var code: ErrorCode? {
        if case .remote(let e) = self { return e.code }
        return nil
    }
}

extension ClientError {
    /// An ERROR reply's body as a client error. A code this client does not know, or no
    /// code at all, counts as `unavailable` (spec §8: "MUST treat a code they do not know
    /// like `unavailable`"): a newer broker's code is most likely a refusal worth retrying
    /// later, not a mistake in the request. The unknown code is kept in the message.
    static func remote(errorReply body: [String: JSONValue]) -> ClientError {
        let message = body["message"]?.stringValue ?? ""
        guard let raw = body["code"]?.stringValue else {
            return .remote(WireError(.unavailable, message + " (ERROR without a code)"))
        }
        guard let code = ErrorCode(rawValue: raw) else {
            return .remote(WireError(.unavailable, message + " (unknown code \"\(raw)\")"))
        }
        var details = body
        details["code"] = nil
        details["message"] = nil
        return .remote(WireError(code, message, details: details))
    }
}
