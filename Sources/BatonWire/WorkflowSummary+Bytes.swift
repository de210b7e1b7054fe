extension WorkflowSummary {
    /// `JSONWriter.bytes(json)`, written straight to bytes, keys in `String` order. A LIST
    /// of 100 rows built a dictionary, three timestamp Strings and the tree's sort for
    /// each row; dashboards poll it.
    public func writeJSON(into out: inout [UInt8]) {
        let start = out.count
        // Every member is written with a leading comma; the first one's becomes the brace
        // (`id` is always there, so there is a first one).
        if let finishedAt { WorkflowStatus.timeMember(#","finished_at":"#, finishedAt, &out) }
        WorkflowStatus.member(#","id":"#, id, &out)
        WorkflowStatus.member(#","name":"#, name, &out)
        if let owner { WorkflowStatus.member(#","owner":"#, owner, &out) }
        if let reason { WorkflowStatus.member(#","reason":"#, reason, &out) }
        if let startedAt { WorkflowStatus.timeMember(#","started_at":"#, startedAt, &out) }
        WorkflowStatus.member(#","state":"#, state.rawValue, &out)
        WorkflowStatus.timeMember(#","submitted_at":"#, submittedAt, &out)
        out[start] = UInt8(ascii: "{")
        out.append(UInt8(ascii: "}"))
    }

    /// A LIST reply's body (spec §4.3.6: `{"workflows": [summary, ...], "next"?}`) holding `rows`,
    /// as `JSONWriter.bytes` writes the same object.
    public static func listReplyBytes(_ rows: [WorkflowSummary], next: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + 240 * rows.count)
        out.append(UInt8(ascii: "{"))
        if let next {
            out.append(literal: #""next":"#)
            JSONWriter.writeString(next, into: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(literal: #""workflows":["#)
        for (i, row) in rows.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            row.writeJSON(into: &out)
        }
        out.append(literal: "]}")
        return out
    }
}
