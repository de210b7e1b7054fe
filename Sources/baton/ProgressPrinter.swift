import BatonWire

/// The jobs of one workflow as people name them: per block, each job's spec name and type.
struct JobNames {
    var blocks: [[(name: String?, type: String)]]

    init(spec: WorkflowSpec) {
        blocks = spec.blocks.map { $0.jobs.map { (name: $0.name, type: $0.type) } }
    }

    /// From a whole STATUS (every page, as `BatonClient.status` returns it).
    init(status: WorkflowStatus) {
        blocks = status.blocks.map { $0.jobs.map { (name: $0.name, type: $0.type) } }
    }

    var total: Int { blocks.reduce(0) { $0 + $1.count } }

    func label(_ b: Int, _ j: Int) -> String {
        guard blocks.indices.contains(b), blocks[b].indices.contains(j) else { return "\(b).\(j)" }
        return jobLabel(block: b, job: j, name: blocks[b][j].name, type: blocks[b][j].type)
    }
}

/// Progress lines for a followed workflow, one call per event in `seq` order.
///
/// A workflow of up to `condenseAbove` jobs gets a line per event. A bigger one stays
/// readable: workflow and block events and every job that did not succeed (retrying,
/// failed, cancelled, stopped) still get their line, while dispatches and successes are
/// counted into a line per block at each tenth of the block done, and PROGRESS events are
/// left to `status` (which shows each running job's last details). `verbose` prints
/// every event whatever the size.
struct ProgressPrinter {
    static let condenseAbove = 20

    let names: JobNames
    let condensed: Bool
    /// Succeeded job ids: a set, so an event replayed over a snapshot is not counted twice.
    private var done = Set<String>()
    private var doneInBlock: [Int]
    private var tenthsPrinted: [Int]

    init(names: JobNames, verbose: Bool) {
        self.names = names
        condensed = !verbose && names.total > Self.condenseAbove
        doneInBlock = Array(repeating: 0, count: names.blocks.count)
        tenthsPrinted = Array(repeating: 0, count: names.blocks.count)
    }

    /// Counts in the jobs a snapshot already shows SUCCEEDED: for following from a later
    /// `seq`, when the earlier events will not be seen. (From seq 0 the events count
    /// every success themselves; seeding then is what made a run's first line read
    /// `4/1000 workflow.submitted`.)
    mutating func seed(_ snapshot: WorkflowStatus) {
        for (b, block) in snapshot.blocks.enumerated() {
            for j in block.jobs where j.state == .succeeded { countDone(j.jobId, block: b) }
        }
        for b in tenthsPrinted.indices { tenthsPrinted[b] = tenths(b) }
    }

    /// The lines to print for `e` (none when condensed away).
    mutating func lines(_ e: WorkflowEvent) -> [String] {
        let f = e.fields
        let place = f["job_id"]?.stringValue.flatMap(jobPlace)
        if e.kind == .jobSucceeded, let id = f["job_id"]?.stringValue, let place { countDone(id, block: place.block) }
        let head = "\(Style.time(e.at)) [\(done.count)/\(names.total)]"
        guard condensed else { return ["\(head) \(describe(e, place))"] }
        switch e.kind {
        case .jobDispatched, .jobProgress:
            return []
        case .jobSucceeded:
            guard let b = place?.block, names.blocks.indices.contains(b) else { return [] }
            let t = tenths(b)
            guard t > tenthsPrinted[b] else { return [] }
            tenthsPrinted[b] = t
            return ["\(head) block \(b): \(doneInBlock[b])/\(names.blocks[b].count) job(s) succeeded"]
        default:
            return ["\(head) \(describe(e, place))"]
        }
    }

    /// `kind label detail`, e.g. `job.retrying 0.1 erase-sdb attempt 1: exit 3`.
    private func describe(_ e: WorkflowEvent, _ place: (block: Int, job: Int)?) -> String {
        let f = e.fields
        var text = e.kind.rawValue
        if let place { text += " " + names.label(place.block, place.job) }
        if let a = f["attempt"]?.intValue { text += " attempt \(a)" }
        if let w = f["worker"]?.stringValue { text += " on \(w)" }
        if let err = f["error"]?.stringValue { text += ": \(Style.cut(err, 200))" }
        if let r = f["reason"]?.stringValue { text += ": \(Style.cut(r, 200))" }
        if let at = f["retry_at"]?.stringValue { text += " (next attempt at \(at))" }
        if let d = f["details"] { text += ": \(Style.cut(JSONWriter.string(d), 120))" }
        if place == nil, let b = f["block"]?.intValue { text += " \(b)" }
        return text
    }

    private mutating func countDone(_ id: String, block b: Int) {
        guard done.insert(id).inserted, doneInBlock.indices.contains(b) else { return }
        doneInBlock[b] += 1
    }

    private func tenths(_ b: Int) -> Int {
        let n = names.blocks[b].count
        return n == 0 ? 0 : doneInBlock[b] * 10 / n
    }
}
