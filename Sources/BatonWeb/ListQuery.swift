import BatonWire

/// The filters of `/workflows` from its query string, checked before anything is asked
/// of the broker: a bad one is a 400 naming the field.
struct ListQuery: Sendable, Equatable {
    var state: WorkflowState?
    var name: String?
    var before: String?
    var limit: Int = 50

    static let maxLimit = 200

    init(state: WorkflowState? = nil, name: String? = nil, before: String? = nil, limit: Int = 50) {
        self.state = state
        self.name = name
        self.before = before
        self.limit = limit
    }

    init(_ f: FormFields) throws(WebError) {
        if let s = f.nonEmpty("state") {
            guard let st = WorkflowState(rawValue: s.uppercased()) else {
                throw .badParameter(field: "state", "unknown state \"\(s)\"; one of \(WorkflowState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = st
        }
        if let n = f.nonEmpty("name") {
            guard n.utf8.count <= WorkflowSpec.Limits.maxNameBytes else {
                throw .badParameter(field: "name", "at most \(WorkflowSpec.Limits.maxNameBytes) bytes")
            }
            name = n
        }
        if let b = f.nonEmpty("before") {
            guard b.utf8.count <= 128 else { throw .badParameter(field: "before", "at most 128 bytes (a workflow id)") }
            before = b
        }
        if let l = f.nonEmpty("limit") {
            guard let n = Int(l), (1...Self.maxLimit).contains(n) else {
                throw .badParameter(field: "limit", "a whole number from 1 to \(Self.maxLimit)")
            }
            limit = n
        }
    }

    var request: ListRequest { ListRequest(state: state, name: name, limit: limit, before: before) }

    /// This query's link with another `before` (nil: the newest page).
    func link(before: String?) -> String {
        URLPart.link("/workflows", [("state", state?.rawValue), ("name", name), ("limit", limit == 50 ? nil : String(limit)),
                                    ("before", before)])
    }
}
