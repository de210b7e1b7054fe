/// What a key may do (shared/design.md, "Who may do what").
public enum Role: String, Sendable, CaseIterable, Comparable {
    /// SUBMIT, EXEC, STATUS, WATCH, CANCEL, LIST, PING, on its own workflows only.
    case client
    /// The worker endpoint only.
    case worker
    /// Every client command on every workflow, plus STOP, RESUME and the operator
    /// commands.
    case admin

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
}

/// The broker's two endpoints, as the ZAP handler sees them (their ZAP domains).
public enum Endpoint: String, Sendable {
    case clients = "baton-clients"
    case workers = "baton-workers"

    /// The roles whose keys this endpoint lets in.
    public var admits: Set<Role> {
        switch self {
        case .clients: [.client, .admin]
        case .workers: [.worker]
        }
    }
}
