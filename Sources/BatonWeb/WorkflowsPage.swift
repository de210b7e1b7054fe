import BatonClient
import BatonWire

/// `/workflows`: LIST, newest first, filtered by state and name, one page at a time
/// (the broker's cursor `next` becomes the "older" link).
struct WorkflowsPage {
    var broker: String
    var query: ListQuery
    var page: BatonClient.ListPage
    var now: Int64

    func render() -> HTML {
        let rows = page.workflows.map { w -> HTML in
            """
            <tr><td><a href="\(URLPart.workflow(w.id))"><code>\(w.id)</code></a></td><td class="name">\(w.name)</td><td>\(Layout.badge(w.state.rawValue))</td><td>\(Format.time(w.submittedAt))</td><td>\(Format.duration(from: w.startedAt, to: w.finishedAt, now: now))</td><td>\(w.owner ?? "–")</td></tr>
            """
        }
        let table: HTML = rows.isEmpty ? "<p class=\"muted\" id=\"no-workflows\">No workflow matches.</p>" : """
        <div class="scroll"><table id="workflows"><thead><tr><th>id</th><th>name</th><th>state</th><th>submitted</th><th>ran for</th><th>owner</th></tr></thead>
        <tbody>\(rows)</tbody></table></div>
        """
        var pager: [HTML] = []
        if query.before != nil { pager.append("<a href=\"\(query.link(before: nil))\">← newest</a>") }
        if let next = page.next { pager.append("<a href=\"\(query.link(before: next))\" rel=\"next\">older →</a>") }
        return Layout.page(title: "Workflows", tab: .workflows, broker: broker, body: """
            <h1>Workflows</h1>
            \(filterForm())
            \(table)
            <nav class="pager">\(HTML.join(pager, separator: " "))</nav>
            """)
    }

    private func filterForm() -> HTML {
        let anyState: HTML = "<option value=\"\">any state</option>"
        let options = [anyState] + WorkflowState.allCases.map { s -> HTML in
            query.state == s ? "<option selected>\(s.rawValue)</option>" : "<option>\(s.rawValue)</option>"
        }
        return """
        <form method="get" action="/workflows" class="filters">
        <label>State <select name="state">\(options)</select></label>
        <label>Name <input name="name" value="\(query.name ?? "")" maxlength="200" placeholder="exact name"></label>
        <button type="submit">Filter</button>
        </form>
        """
    }
}
