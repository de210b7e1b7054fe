import BatonClient
import BatonWire
import Hummingbird

/// What a request to the dashboard can fail with, each with the HTTP status it answers
/// and a sentence for the page. No case hides a broker that is down behind a generic
/// error: a page names the endpoint it could not reach.
public enum WebError: Error, Equatable, Sendable {
    /// A query or form field is malformed or out of range (400, naming the field).
    case badParameter(field: String, String)
    /// The broker did not answer in time, or the socket failed (503).
    case brokerUnreachable(endpoint: String, String)
    /// The broker answered ERROR (status by code: not_found 404, forbidden 403, others 502).
    case brokerRefused(code: ErrorCode, String)
    /// The broker's reply broke the protocol (502).
    case badReply(String)
    /// Every broker connection is busy and the queue is full (503); try again.
    case busy(String)
    /// A POST without this process's form token or from another origin (403).
    case forbiddenForm(String)
    /// No such page (404).
    case notFound(String)

    var status: HTTPResponse.Status {
        switch self {
        case .badParameter: .badRequest
        case .brokerUnreachable, .busy: .serviceUnavailable
        case .brokerRefused(let code, _):
            switch code {
            case .notFound: .notFound
            case .forbidden: .forbidden
            case .badRequest: .badRequest
            default: .badGateway
            }
        case .badReply: .badGateway
        case .forbiddenForm: .forbidden
        case .notFound: .notFound
        }
    }

    var title: String {
        switch self {
        case .badParameter: "Bad request"
        case .brokerUnreachable: "Broker unreachable"
        case .brokerRefused(let code, _): code == .notFound ? "Not found" : "The broker refused"
        case .badReply: "Bad reply from the broker"
        case .busy: "Busy"
        case .forbiddenForm: "Form refused"
        case .notFound: "Not found"
        }
    }

    public var message: String {
        switch self {
        case .badParameter(let field, let problem): "\(field): \(problem)"
        case .brokerUnreachable(let endpoint, let detail): "broker unreachable at \(endpoint): \(detail)"
        case .brokerRefused(let code, let message): "\(code.rawValue): \(message)"
        case .badReply(let why), .busy(let why), .forbiddenForm(let why), .notFound(let why): why
        }
    }

    /// A client error as a page error; `endpoint` names the broker in the page.
    static func from(_ error: ClientError, endpoint: String) -> WebError {
        switch error {
        case .timeout(let command, let attempts, let ms):
            .brokerUnreachable(endpoint: endpoint, "no reply to \(command) after \(attempts) attempt(s) of \(ms) ms")
        case .socket(let e): .brokerUnreachable(endpoint: endpoint, "socket: \(e)")
        case .remote(let e): .brokerRefused(code: e.code, e.message)
        case .badReply(let why): .badReply(why)
        }
    }
}
