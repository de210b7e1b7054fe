import BatonWire

/// How a workflow's events are stored (schema v7): the events one commit writes for one
/// workflow share one row, `(workflow, seq, last, data)`, where `seq` and `last` are
/// the first and last event's numbers and `data` is a JSON array holding, for each
/// event from `seq` to `last` in order, `[at, "kind", {fields}]`.
///
/// Why: each row is a statement, its bindings and a b-tree insert. The events of one
/// workflow in one commit (a turn's `workflow.running`, `block.started` and
/// `job.dispatched`; a fan-out turn's dispatches and results) now cost one row:
/// `scripts/profile` fan-out -20k instructions per job (two rows per job before), a
/// one-job workflow -10k (7 rows → 3; the pages each commit writes stay the same). What
/// WATCH returns is unchanged: `Store.events` unpacks the rows.
///
/// Invariant: a workflow's rows hold disjoint, increasing ranges of seq, so the row
/// holding event n is the one with the greatest `seq` ≤ n.
///
/// Since schema v8 a workflow's first event, `workflow.submitted` (always seq 1, its
/// only field the name; spec §7), has no row: it says nothing the workflow's own row
/// does not (`name`, `submitted_at`), so `group` leaves it out and the readers put it
/// back (`implied(name:submittedAt:)`). That took one of a one-job workflow's ~3.75
/// event rows, and SUBMIT's commit writes the workflow row alone (`scripts/profile`:
/// about 10k instructions per SUBMIT; bench/README, session nine). A row that does
/// start at seq 1 (a v7 row the migration left, see `Schema`) is read as stored and
/// nothing is implied before it.
enum FoldedEvents {
    /// Whether `event` is a workflow's implied first event, which has no row.
    static func isImplied(_ event: EventRow) -> Bool {
        event.seq == 1 && event.kind == .workflowSubmitted
    }

    /// A workflow's first event, the one its SUBMIT implies, made from its row's name and
    /// submission time.
    static func implied(name: String, submittedAt: Int64) -> WorkflowEvent {
        WorkflowEvent(seq: 1, at: submittedAt, kind: .workflowSubmitted, fields: ["name": .string(name)])
    }

    /// A batch's events grouped into rows: per workflow, in the order each first
    /// appears, a new row whenever a workflow's next event does not follow its last.
    ///
    /// Rows are chains of indices into the batch (`next`), not arrays of events: an
    /// array per row, grown an event at a time, and a dictionary grown from empty cost
    /// as much as the rows saved on a one-job workflow.
    struct Grouping {
        struct Row {
            let workflowId: String
            /// The batch indices of the row's first and last events.
            let head: Int
            var tail: Int
        }

        var rows: [Row] = []
        /// For each event of the batch, the index of the next event of its row (-1: none).
        var next: [Int]
    }

    static func group(_ events: [(workflowId: String, event: EventRow)]) -> Grouping {
        var g = Grouping(next: Array(repeating: -1, count: events.count))
        g.rows.reserveCapacity(events.count)
        var open = WorkflowIdMap<Int>()  // workflow id → its row being filled
        open.reserveCapacity(events.count)
        var lastRow = -1
        for (i, (id, event)) in events.enumerated() where !isImplied(event) {
            // A workflow's events mostly come in a run (a job's end, its block's, the
            // workflow's): the run needs no lookup.
            let row = lastRow >= 0 && g.rows[lastRow].workflowId == id ? lastRow : open[id] ?? -1
            if row >= 0, events[g.rows[row].tail].event.seq == event.seq - 1 {
                g.next[g.rows[row].tail] = i
                g.rows[row].tail = i
                lastRow = row
            } else {
                g.rows.append(Grouping.Row(workflowId: id, head: i, tail: i))
                lastRow = g.rows.count - 1
                open[id] = lastRow
            }
        }
        return g
    }

    /// The grouping as arrays of events (tests, tools).
    static func rows(_ events: [(workflowId: String, event: EventRow)]) -> [(workflowId: String, events: [EventRow])] {
        let g = group(events)
        return g.rows.map { row in
            var folded: [EventRow] = []
            var i = row.head
            while i >= 0 { folded.append(events[i].event); i = g.next[i] }
            return (row.workflowId, folded)
        }
    }

    /// A row's `data`: the events of the chain from batch index `head` (`Grouping`).
    static func write(_ events: [(workflowId: String, event: EventRow)], from head: Int, next: [Int], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        var i = head
        while i >= 0 {
            if i != head { out.append(UInt8(ascii: ",")) }
            write(events[i].event, into: &out)
            i = next[i]
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A row's `outputs`: `[[seq,output],...]` for the chain's events that carry a job
    /// output (`EventRow.output`); false (write NULL) when none does.
    static func writeOutputs(_ events: [(workflowId: String, event: EventRow)], from head: Int, next: [Int],
                             into out: inout [UInt8]) -> Bool {
        var i = head
        var any = false
        while i >= 0 {
            if let output = events[i].event.output {
                out.append(UInt8(ascii: any ? "," : "["))
                out.append(UInt8(ascii: "["))
                JSONWriter.writeInt(events[i].event.seq, into: &out)
                out.append(UInt8(ascii: ","))
                out.append(contentsOf: output.bytes)
                out.append(UInt8(ascii: "]"))
                any = true
            }
            i = next[i]
        }
        if any { out.append(UInt8(ascii: "]")) }
        return any
    }

    /// A row's `outputs` as written by `writeOutputs`: event seq → output.
    /// Each output is made canonical text again (a restart or a read of a stored
    /// workflow, not the hot path: the tree is the simple way to split the pairs).
    static func readOutputs(_ data: UnsafeRawBufferPointer, workflowId: String, first: Int64, last: Int64) throws -> [Int64: JSONText] {
        guard case .array(let items)? = try? JSONParser.parse(data) else {
            throw StoreError.corrupt("outputs of events \(first)...\(last) of \(workflowId): not a JSON array")
        }
        var outputs: [Int64: JSONText] = [:]
        for item in items {
            guard case .array(let pair) = item, pair.count == 2, let seq = pair[0].intValue, (first...last).contains(seq) else {
                throw StoreError.corrupt("outputs of events \(first)...\(last) of \(workflowId): not [seq, output] pairs of the row")
            }
            outputs[seq] = JSONText(pair[1])
        }
        return outputs
    }

    /// One event: `[at,"kind",{fields}]`.
    private static func write(_ e: EventRow, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        JSONWriter.writeInt(e.at, into: &out)
        out.append(UInt8(ascii: ","))
        e.kind.quotedJSON.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: ","))
        e.fields.write(into: &out)
        out.append(UInt8(ascii: "]"))
    }

    /// Appends to a WATCH reply the events of the row `data` (events `first...last`)
    /// whose seq is above `after`, while `written` (the reply's events so far) is below
    /// `limit`, each as `WorkflowEvent.writeJSON` writes it, comma-separated.
    ///
    /// Copies each event's fields as stored (`WorkflowEvent.writeJSON(seq:at:kind:fields:)`)
    /// instead of parsing them into values that the reply then writes back: at low load
    /// that parse and write were ~100k instructions per workflow. A row that is not
    /// exactly as `write` writes it (an older row, or a corrupt one) goes through `read`,
    /// so it answers, or fails, as before.
    /// Returns whether it copied (false: it parsed the row).
    @discardableResult
    static func writeReply(_ data: UnsafeRawBufferPointer, workflowId: String, first: Int64, last: Int64,
                           after: Int64, limit: Int, written: inout Int, into out: inout [UInt8]) throws -> Bool {
        let (outStart, writtenStart) = (out.count, written)
        if copyReply(data, first: first, last: last, after: after, limit: limit, written: &written, into: &out) { return true }
        out.removeSubrange(outStart...)
        written = writtenStart
        for e in try read(data, workflowId: workflowId, first: first, last: last) where e.seq > after && written < limit {
            if written > 0 { out.append(UInt8(ascii: ",")) }
            e.writeJSON(into: &out)
            written += 1
        }
        return false
    }

    /// `writeReply` by copying; false when the row must be parsed instead (what it wrote
    /// is then the caller's to drop).
    private static func copyReply(_ data: UnsafeRawBufferPointer, first: Int64, last: Int64, after: Int64, limit: Int,
                                  written: inout Int, into out: inout [UInt8]) -> Bool {
        let b = data.assumingMemoryBound(to: UInt8.self)
        var i = 0
        func take(_ c: Unicode.Scalar) -> Bool {
            guard i < b.count, b[i] == UInt8(ascii: c) else { return false }
            i += 1
            return true
        }
        guard first >= 1, last >= first, take("[") else { return false }
        var seq = first
        while true {
            // [at,"kind",{fields}]
            guard take("["), let at = integer(b, &i), take(","), take("\"") else { return false }
            let kindStart = i
            while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\") { i += 1 }
            guard i < b.count, b[i] == UInt8(ascii: "\""),
                  let kind = EventKind(rawValue: String(decoding: UnsafeBufferPointer(rebasing: b[kindStart..<i]), as: UTF8.self))
            else { return false }
            i += 1
            guard take(","), let fieldsEnd = JSONParser.valueEnd(in: data, from: i), b[i] == UInt8(ascii: "{") else { return false }
            if seq > after && written < limit {
                if written > 0 { out.append(UInt8(ascii: ",")) }
                let fields = UnsafeRawBufferPointer(rebasing: data[i..<fieldsEnd])
                guard WorkflowEvent.writeJSON(seq: seq, at: at, kind: kind, fields: fields, into: &out) else { return false }
                written += 1
            }
            i = fieldsEnd
            guard take("]") else { return false }
            if seq == last { break }
            guard take(",") else { return false }
            seq += 1
        }
        return take("]") && i == b.count
    }

    /// A JSON integer that fits an Int64 (no fraction or exponent), or nil.
    private static func integer(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int64? {
        let negative = i < b.count && b[i] == UInt8(ascii: "-")
        var k = negative ? i + 1 : i
        let digitsStart = k
        var value: Int64 = 0
        while k < b.count, b[k] >= UInt8(ascii: "0"), b[k] <= UInt8(ascii: "9") {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(b[k] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
            k += 1
        }
        let digits = k - digitsStart
        guard digits > 0, digits == 1 || b[digitsStart] != UInt8(ascii: "0") else { return nil }
        if k < b.count, b[k] == UInt8(ascii: ".") || b[k] == UInt8(ascii: "e") || b[k] == UInt8(ascii: "E") { return nil }
        i = k
        return negative ? -value : value
    }

    /// The events of a row; throws `StoreError.corrupt` when `data` does not hold
    /// exactly the events `first...last`, each as `write` writes it.
    /// `data` is the column's bytes as SQLite holds them (no String made first).
    static func read(_ data: UnsafeRawBufferPointer, workflowId: String, first: Int64, last: Int64) throws -> [WorkflowEvent] {
        func corrupt(_ what: String) -> StoreError { StoreError.corrupt("events \(first)...\(last) of \(workflowId): \(what)") }
        guard case .array(let items)? = try? JSONParser.parse(data) else { throw corrupt("not a JSON array") }
        guard first >= 1, last >= first, Int64(items.count) == last - first + 1 else {
            throw corrupt("\(items.count) events stored")
        }
        return try items.enumerated().map { i, item in
            guard case .array(let parts) = item, parts.count == 3, let at = parts[0].intValue,
                  case .string(let kindText) = parts[1] else { throw corrupt("event \(first + Int64(i)) is not [at, kind, fields]") }
            guard let kind = EventKind(rawValue: kindText) else { throw StoreError.corrupt("unknown event kind \(kindText)") }
            // An object, as every broker wrote them; other JSON (only an old row's) reads
            // as no fields, as before v7. Text is a v6 row whose data was not JSON.
            if case .string = parts[2] { throw corrupt("event \(first + Int64(i)) fields are not JSON") }
            return WorkflowEvent(seq: first + Int64(i), at: at, kind: kind, fields: parts[2].objectValue ?? [:])
        }
    }
}
