/// The body of an ID reply (spec §4.3.1): the workflow's id, its state, and whether the
/// SUBMIT was a duplicate of an earlier one with the same idempotency key.
public struct IdReply: Equatable, Sendable {
    public var id: String
    public var state: WorkflowState
    public var duplicate: Bool

    public init(id: String, state: WorkflowState, duplicate: Bool) {
        self.id = id
        self.state = state
        self.duplicate = duplicate
    }

    public var json: JSONValue {
        ["duplicate": .bool(duplicate), "id": .string(id), "state": .string(state.rawValue)]
    }

    /// `json` written straight to bytes (keys in `JSONWriter`'s order): every SUBMIT is
    /// answered with one, and the tree cost a dictionary to build and sort.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        // 73 bytes for a broker's id (26 characters) SUBMITTED: room for it at once (64
        // made every reply grow once, a second allocation and copy).
        out.reserveCapacity(48 + id.utf8.count + state.rawValue.utf8.count)
        if duplicate { out.append(literal: #"{"duplicate":true,"id":"#) } else { out.append(literal: #"{"duplicate":false,"id":"#) }
        JSONWriter.writeString(id, into: &out)
        out.append(literal: #","state":"#)
        JSONWriter.writeString(state.rawValue, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
