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
