import BatonWire

/// One row's arguments for `RawStatement.run(_:)`, in parameter order (the first value
/// binds `?1`). Text and JSON go once into `bytes`, from which `run` binds them in place
/// (`SQLITE_STATIC`) for the one step, then clears the bindings.
///
/// Why not bind each text with `SQLITE_TRANSIENT`: SQLite then allocates and copies
/// every text argument and frees the copy when the statement halts; the profile showed
/// that at about 2,000 instructions per text, 38 texts per one-job workflow, a twentieth
/// of the broker. JSON columns are written straight into `bytes`, not into an array of
/// their own first. One value is reused for every row of a batch (`removeAll` keeps the
/// capacity).
struct RowArguments {
    enum Value {
        case null
        case int(Int64)
        /// `count` bytes of `bytes` from `start`.
        case text(start: Int, count: Int)
    }

    private(set) var values: [Value] = []
    private(set) var bytes: [UInt8] = []

    init() {
        values.reserveCapacity(16)
        bytes.reserveCapacity(1024)
    }

    mutating func removeAll() {
        values.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func append(_ v: Int64) { values.append(.int(v)) }
    mutating func append(_ v: Int) { values.append(.int(Int64(v))) }
    mutating func append(_ v: Int64?) { values.append(v.map { .int($0) } ?? .null) }

    mutating func append(_ s: String?) {
        guard let s else { return values.append(.null) }
        let start = bytes.count
        bytes.append(contentsOf: s.utf8)
        values.append(.text(start: start, count: bytes.count - start))
    }

    /// A value's canonical JSON text (`JSONText`: the writer's bytes) as it is, or NULL.
    mutating func append(json: JSONText?) {
        guard let json else { return values.append(.null) }
        let start = bytes.count
        bytes.append(contentsOf: json.bytes)
        values.append(.text(start: start, count: bytes.count - start))
    }

    /// A spec's canonical JSON text (`WorkflowSpec.writeJSON`, the bytes of its `json`).
    mutating func append(_ spec: WorkflowSpec) {
        let start = bytes.count
        spec.writeJSON(into: &bytes)
        values.append(.text(start: start, count: bytes.count - start))
    }

    /// An object's canonical JSON text.
    mutating func append(_ fields: EventFields) {
        let start = bytes.count
        fields.write(into: &bytes)
        values.append(.text(start: start, count: bytes.count - start))
    }

    /// Events folded into one row's `data`: the chain from batch index `head`
    /// (`FoldedEvents.Grouping`).
    mutating func append(folded events: [(workflowId: String, event: EventRow)], from head: Int, next: [Int]) {
        let start = bytes.count
        FoldedEvents.write(events, from: head, next: next, into: &bytes)
        values.append(.text(start: start, count: bytes.count - start))
    }

    /// The job outputs of the same chain (`FoldedEvents.writeOutputs`), or NULL.
    mutating func append(outputs events: [(workflowId: String, event: EventRow)], from head: Int, next: [Int]) {
        let start = bytes.count
        guard FoldedEvents.writeOutputs(events, from: head, next: next, into: &bytes) else { return values.append(.null) }
        values.append(.text(start: start, count: bytes.count - start))
    }
}
