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

    /// The reply of `events` held as values (the broker's own WATCH answers copy stored
    /// rows instead: `Store.eventsReply`, held to these bytes by tests).
    public static func eventsReplyBytes(id: String, state: WorkflowState, events: [WorkflowEvent]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48 + id.utf8.count + 160 * events.count)
        beginEventsReply(into: &out)
        for (i, event) in events.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            event.writeJSON(into: &out)
        }
        endEventsReply(id: id, state: state, into: &out)
        return out
    }

    /// What an EVENTS reply's bytes start with; its events follow, comma-separated.
    public static func beginEventsReply(into out: inout [UInt8]) {
        out.append(literal: #"{"events":["#)
    }

    /// What an EVENTS reply's bytes end with, after its events.
    public static func endEventsReply(id: String, state: WorkflowState, into out: inout [UInt8]) {
        out.append(literal: #"],"id":"#)
        JSONWriter.writeString(id, into: &out)
        out.append(literal: #","state":"#)
        JSONWriter.writeString(state.rawValue, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// The bytes `writeJSON` writes for the event `(seq, at, kind)` whose fields are the
    /// JSON object `fields` as `EventFields.write` wrote it, copied member by member
    /// without parsing the values (a stored event's, for WATCH).
    ///
    /// Copying gives `writeJSON`'s bytes when the object is what this module's writers
    /// write: keys in ascending byte order, plain ASCII, no whitespace. For anything else
    /// (an escape or a non-ASCII byte in a key, keys out of order, whitespace, invalid
    /// JSON) it writes nothing and returns false: the caller parses the fields instead.
    public static func writeJSON(seq: Int64, at: Int64, kind: EventKind, fields: UnsafeRawBufferPointer,
                                 into out: inout [UInt8]) -> Bool {
        let b = fields.assumingMemoryBound(to: UInt8.self)
        let start = out.count
        func giveUp() -> Bool {
            out.removeSubrange(start...)
            return false
        }
        guard b.count >= 2, b[0] == UInt8(ascii: "{"), b[b.count - 1] == UInt8(ascii: "}") else { return false }
        out.append(UInt8(ascii: "{"))
        var own = 0  // the next of `ownKeys` to write
        var wrote = false
        func writeOwn(_ index: Int) {
            if wrote { out.append(UInt8(ascii: ",")) }
            wrote = true
            writeOwnMember(index, seq: seq, at: at, kind: kind, into: &out)
        }
        var i = 1
        var previousKey: Range<Int>?
        if b.count > 2 {
            while true {
                // "key":value, the key plain ASCII.
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { return giveUp() }
                let keyStart = i + 1
                var k = keyStart
                while k < b.count, b[k] != UInt8(ascii: "\"") {
                    guard b[k] >= 0x20, b[k] < 0x80, b[k] != UInt8(ascii: "\\") else { return giveUp() }
                    k += 1
                }
                guard k + 1 < b.count, b[k + 1] == UInt8(ascii: ":") else { return giveUp() }
                let key = UnsafeBufferPointer(rebasing: b[keyStart..<k])
                if let previousKey, !UnsafeBufferPointer(rebasing: b[previousKey]).lexicographicallyPrecedes(key) {
                    return giveUp()
                }
                previousKey = keyStart..<k
                guard let end = JSONParser.valueEnd(in: fields, from: k + 2) else { return giveUp() }
                while own < ownKeyBytes.count && ownKeyBytes[own].withUTF8Buffer({ $0.lexicographicallyPrecedes(key) }) {
                    writeOwn(own)
                    own += 1
                }
                // A field named like one of the event's own keys is replaced, as in `json`.
                if !ownKeyBytes.contains(where: { $0.withUTF8Buffer { $0.elementsEqual(key) } }) {
                    if wrote { out.append(UInt8(ascii: ",")) }
                    wrote = true
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: fields[(keyStart - 1)..<end]))
                }
                guard end < b.count else { return giveUp() }
                if b[end] == UInt8(ascii: ",") { i = end + 1; continue }
                guard b[end] == UInt8(ascii: "}"), end == b.count - 1 else { return giveUp() }
                break
            }
        }
        while own < ownKeyBytes.count {
            writeOwn(own)
            own += 1
        }
        out.append(UInt8(ascii: "}"))
        return true
    }

    /// `ownKeys` as static text, in the same order.
    private static let ownKeyBytes: [StaticString] = ["at", "kind", "seq"]

    /// `"key":value` for the event's own key `ownKeys[index]`.
    private static func writeOwnMember(_ index: Int, seq: Int64, at: Int64, kind: EventKind, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        ownKeyBytes[index].withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(literal: #"":"#)
        switch index {
        case 0: Timestamp.writeJSON(ms: at, into: &out)
        case 1: out.append(literal: kind.quotedJSON)
        default: JSONWriter.writeInt(seq, into: &out)
        }
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
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            Self.writeOwnMember(index, seq: seq, at: at, kind: kind, into: &out)
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
