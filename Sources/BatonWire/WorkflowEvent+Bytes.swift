/// WATCH's EVENTS reply written straight to bytes.
///
/// `eventsReplyBytes` gives exactly the bytes of `JSONWriter.bytes` of the reply's tree
/// (`{"events": [event.json...], "id": ..., "state": ...}`), without what the tree cost:
/// each event's fields copied into a new dictionary with `seq`, `at` and `kind` inserted
/// (growing it), then the whole tree sorted and written. A WATCH answer on a one-job
/// workflow spent ~70k instructions there. Keys are written in `String` order, as the
/// writer sorts them; `WorkflowEventBytesTests` checks the bytes against the tree's.
extension WorkflowEvent {
    /// The keys `json` sets over the fields', in `String` order.
    private static let ownKeys = ["at", "kind", "seq"]

    public static func eventsReplyBytes(id: String, state: WorkflowState, events: [WorkflowEvent]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48 + id.utf8.count + 160 * events.count)
        out.append(contentsOf: #"{"events":["#.utf8)
        for (i, event) in events.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            event.writeJSON(into: &out)
        }
        out.append(contentsOf: #"],"id":"#.utf8)
        JSONWriter.writeString(id, into: &out)
        out.append(contentsOf: #","state":"#.utf8)
        JSONWriter.writeString(state.rawValue, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The bytes of `JSONWriter.bytes(json)`: the fields and the event's own three keys
    /// merged in key order (a field named like one of them is replaced, as in `json`).
    public func writeJSON(into out: inout [UInt8]) {
        var keys = fields.keys.filter { !Self.ownKeys.contains($0) }
        keys.sort()
        out.append(UInt8(ascii: "{"))
        var own = 0  // the next of `ownKeys` to write
        var first = true
        func member(_ key: String) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
        }
        func writeOwn(_ index: Int) {
            member(Self.ownKeys[index])
            switch index {
            case 0: JSONWriter.writeString(Timestamp.format(ms: at), into: &out)
            case 1: JSONWriter.writeString(kind.rawValue, into: &out)
            default: JSONWriter.writeInt(seq, into: &out)
            }
        }
        for key in keys {
            while own < Self.ownKeys.count && Self.ownKeys[own] < key {
                writeOwn(own)
                own += 1
            }
            member(key)
            JSONWriter.write(fields[key]!, into: &out)
        }
        while own < Self.ownKeys.count {
            writeOwn(own)
            own += 1
        }
        out.append(UInt8(ascii: "}"))
    }
}
