import BatonWire

/// `/workflows/ID`: one workflow as a timeline: its blocks, a window of its jobs with
/// each attempt (worker, duration, outcome), outputs and errors, and its recent events.
/// `#workflow-body` is what the live script re-reads (`?fragment=1`) when events come.
struct WorkflowPage {
    var broker: String
    var view: WorkflowView
    var token: String
    var notice: HTML?
    var now: Int64

    private var status: WorkflowStatus { view.status }

    func render() -> HTML {
        let live: HTML = """
        <section id="live" data-events="\(eventsURL)" data-final="\(status.state.isFinal ? "true" : "false")">
        <h2>Events <span id="live-state" class="muted">\(status.state.isFinal ? "(finished)" : "(live)")</span></h2>
        <ol id="events" class="events">\(view.recentEvents.map(Self.eventLine))</ol>
        </section>
        """
        return Layout.page(title: status.name, tab: .workflows, broker: broker, body: """
            \(notice ?? .empty)
            <h1 class="name">\(status.name)</h1>
            <div id="workflow-body" data-fragment="\(URLPart.link(URLPart.workflow(status.id), [("from", view.from == 0 ? nil : String(view.from)), ("fragment", "1")]))">\(body())</div>
            \(actions())
            \(live)
            """)
    }

    /// The part the live script swaps: facts, blocks, the jobs window, the pager.
    func body() -> HTML {
        """
        \(facts())
        \(blocks())
        \(jobsTable())
        \(pager())
        """
    }

    private var eventsURL: String {
        URLPart.link(URLPart.workflow(status.id) + "/events", [("after", String(view.attempts.lastSeq))])
    }

    private func facts() -> HTML {
        let reason: HTML = status.reason.map { "<dt>reason</dt><dd class=\"reason\">\(Layout.longText($0))</dd>" } ?? .empty
        let owner: HTML = status.owner.map { "<dt>owner</dt><dd>\($0)</dd>" } ?? .empty
        return """
        <dl class="facts">
        <dt>id</dt><dd><code>\(status.id)</code></dd>
        <dt>state</dt><dd id="workflow-state" data-state="\(status.state.rawValue)">\(Layout.badge(status.state.rawValue))</dd>
        \(reason)
        <dt>submitted</dt><dd>\(Format.time(status.submittedAt))</dd>
        <dt>started</dt><dd>\(Format.time(status.startedAt))</dd>
        <dt>finished</dt><dd>\(Format.time(status.finishedAt))</dd>
        <dt>ran for</dt><dd>\(Format.duration(from: status.startedAt, to: status.finishedAt, now: now))</dd>
        \(owner)
        </dl>
        """
    }

    /// Every block's state while there are few; past `listBlocksUpTo`, counts per state
    /// and the blocks this window's jobs belong to (a workflow may have 10,000 blocks).
    private func blocks() -> HTML {
        let all = Array(status.blocks.enumerated())
        guard all.count > Self.listBlocksUpTo else {
            return "<ol class=\"blocks\" start=\"0\">\(all.map(blockItem))</ol>"
        }
        let counts = BlockState.allCases.compactMap { st -> HTML? in
            let n = status.blocks.count { $0.state == st }
            return n == 0 ? nil : "<li>\(Layout.badge(st.rawValue)) ×\(n)</li>"
        }
        let shown = Set(view.jobs.map(\.block))
        return """
        <ul class="counts" id="block-counts">\(counts)</ul>
        <ol class="blocks">\(all.filter { shown.contains($0.offset) }.map(blockItem))</ol>
        """
    }

    static let listBlocksUpTo = 40

    private func blockItem(_ item: (offset: Int, element: WorkflowStatus.Block)) -> HTML {
        "<li>block \(item.offset) \(Layout.badge(item.element.state.rawValue))</li>"
    }

    private func jobsTable() -> HTML {
        guard !view.jobs.isEmpty else { return "<p class=\"muted\">No jobs in this window.</p>" }
        let last = view.jobs.last.map(\.index) ?? view.from
        let partial: HTML = view.attempts.complete ? .empty
            : "<p class=\"muted\">The event log is long: attempt histories show its first \(WorkflowView.maxEventPages * 500) events only.</p>"
        return """
        <h2>Jobs \(view.from + 1)–\(last + 1)</h2>\(partial)
        <div class="scroll"><table class="jobs" id="jobs"><thead><tr><th>job</th><th>state</th><th>attempts</th><th>timeline</th><th>result</th></tr></thead>
        <tbody>\(view.jobs.map(jobRow))</tbody></table></div>
        """
    }

    private func jobRow(_ placed: WorkflowView.PlacedJob) -> HTML {
        let j = placed.value
        let label = "\(placed.block).\(placed.job) \(j.name ?? j.type)"
        return """
        <tr data-job="\(j.jobId)" class="\(Format.stateClass(j.state.rawValue))">
        <td><span class="label">\(label)</span><br><code class="muted">\(j.type)</code></td>
        <td class="job-state">\(Layout.badge(j.state.rawValue))</td>
        <td>\(attemptsCell(j))</td>
        <td class="timeline">\(timeline(j))</td>
        <td class="result">\(result(j))</td>
        </tr>
        """
    }

    private func attemptsCell(_ j: WorkflowStatus.Job) -> HTML {
        let list = view.attempts[j.jobId]
        guard !list.isEmpty else {
            return j.attempt == 0 ? "<span class=\"muted\">not dispatched</span>" : "#\(j.attempt) \(Format.duration(from: j.startedAt, to: j.finishedAt, now: now))"
        }
        let items = list.map { a -> HTML in
            let worker: HTML = a.worker.map { " on <code>\($0)</code>" } ?? .empty
            let error: HTML = a.error.map { ": \(Layout.longText($0, cutAt: 60))" } ?? .empty
            return "<li class=\"outcome-\(a.outcome)\">#\(a.number)\(worker) \(Format.duration(ms: (a.endedAt ?? now) - a.dispatchedAt)) \(a.outcome)\(error)</li>"
        }
        return "<ol class=\"attempts\">\(items)</ol>"
    }

    /// Bars on the workflow's own time axis, from its start to its end (or now): one per
    /// attempt when the events gave them, else the latest attempt from STATUS.
    private func timeline(_ j: WorkflowStatus.Job) -> HTML {
        guard let t0 = status.startedAt else { return .empty }
        let span = Double(max(1, (status.finishedAt ?? now) - t0))
        func bar(_ start: Int64, _ end: Int64?, _ outcome: String, _ title: String) -> HTML {
            let left = min(100, max(0, Double(start - t0) / span * 100))
            let width = min(100 - left, max(0.6, Double((end ?? now) - start) / span * 100))
            return "<span class=\"bar outcome-\(outcome)\" style=\"left:\(String(format: "%.2f", left))%;width:\(String(format: "%.2f", width))%\" title=\"\(title)\"></span>"
        }
        let list = view.attempts[j.jobId]
        let bars: [HTML]
        if !list.isEmpty {
            bars = list.map { bar($0.dispatchedAt, $0.endedAt, $0.outcome, "attempt \($0.number): \($0.outcome)") }
        } else if let s = j.startedAt {
            bars = [bar(s, j.finishedAt ?? (j.state == .running ? nil : s), j.state.rawValue.lowercased(), "attempt \(j.attempt)")]
        } else {
            bars = []
        }
        return "<div class=\"track\">\(bars)</div>"
    }

    private func result(_ j: WorkflowStatus.Job) -> HTML {
        var parts: [HTML] = []
        if let output = j.output { parts.append("<div class=\"output\">output \(Layout.longText(Format.json(output)))</div>") }
        if let error = j.error { parts.append("<div class=\"error\">error \(Layout.longText(error))</div>") }
        if let p = j.progress { parts.append("<div class=\"progress\">progress \(Layout.longText(Format.json(p)))</div>") }
        if let w = j.waitingFor { parts.append("<div class=\"waiting\">waiting for \(w)</div>") }
        return HTML.join(parts)
    }

    private func pager() -> HTML {
        let base = URLPart.workflow(status.id)
        var links: [HTML] = []
        if view.from > 0 {
            let prev = max(0, view.from - WorkflowView.windowSize)
            links.append("<a href=\"\(URLPart.link(base, [("from", prev == 0 ? nil : String(prev))]))\">← jobs \(prev + 1)–\(view.from)</a>")
        }
        if let next = view.next {
            links.append("<a href=\"\(URLPart.link(base, [("from", String(next))]))\" rel=\"next\">jobs from \(next + 1) →</a>")
        }
        return links.isEmpty ? .empty : "<nav class=\"pager\">\(HTML.join(links, separator: " "))</nav>"
    }

    /// Cancel, for a workflow that is not final. The broker decides whether this key may
    /// (a client key only cancels its own; spec §3.6).
    private func actions() -> HTML {
        guard !status.state.isFinal else { return .empty }
        return """
        <form method="post" action="\(URLPart.workflow(status.id))/cancel" class="action danger" id="cancel-form" data-confirm="Cancel workflow \(status.name) (\(status.id))? Running jobs get CANCEL.">
        <input type="hidden" name="token" value="\(token)">
        <button type="submit">Cancel workflow</button>
        </form>
        """
    }

    /// One event as a line; the live script writes new ones the same way.
    static func eventLine(_ e: WorkflowEvent) -> HTML {
        var detail: [String] = []
        for key in ["block", "job_id", "attempt", "worker", "error", "reason"] {
            guard let v = e.fields[key] else { continue }
            detail.append("\(key)=\(v.stringValue ?? Format.json(v))")
        }
        return "<li data-seq=\"\(e.seq)\"><span class=\"muted\">\(e.seq) \(Format.time(e.at))</span> <strong>\(e.kind.rawValue)</strong> \(detail.joined(separator: " "))</li>"
    }
}
