/// `/workers`: every registered worker connection from STATS: what it serves, its
/// capacity and load, whether it drains, when it was last heard from.
struct WorkersPage {
    var broker: String
    var stats: StatsSnapshot
    var now: Int64

    func render() -> HTML {
        let reference = stats.time ?? now
        let rows = stats.workers.map { w -> HTML in
            let seen = w.lastSeen.map { "\(Format.duration(ms: reference - $0)) ago" } ?? "–"
            let types = HTML.join(w.types.map { "<code>\($0)</code>" }, separator: " ")
            return """
            <tr><td class="name">\(w.name)</td><td>\(types)</td><td>\(w.running)/\(w.capacity)</td><td>\(w.draining ? Layout.badge("DRAINING") : "–")</td><td>\(Format.time(w.connectedAt))</td><td>\(seen)</td></tr>
            """
        }
        let table: HTML = rows.isEmpty ? "<p class=\"muted\" id=\"no-workers\">No worker is connected.</p>" : """
        <div class="scroll"><table id="workers"><thead><tr><th>worker</th><th>types</th><th>running/capacity</th><th>draining</th><th>connected</th><th>last seen</th></tr></thead>
        <tbody>\(rows)</tbody></table></div>
        """
        return Layout.page(title: "Workers", tab: .workers, broker: broker, body: """
            <h1>Workers</h1>
            <p>\(stats.workers.count) connected; \(stats.running) attempts running.</p>
            \(table)
            """, refreshSeconds: 10)
    }
}
