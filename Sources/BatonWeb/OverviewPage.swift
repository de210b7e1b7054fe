import BatonWire
import Foundation

/// `/`: the broker at a glance: throughput, workflows by state, queues per job type,
/// workers, limits and the emergency-stop state (STATS and LIMITS).
struct OverviewPage {
    var broker: String
    var stats: Result<StatsSnapshot, WebError>
    var limits: Result<[String: JSONValue], WebError>
    var throughput: Throughput?
    /// This process's form token (CSRF); the stop/go forms carry it.
    var token: String
    var notice: HTML?
    var now: Int64

    func render() -> HTML {
        var parts: [HTML] = [notice ?? .empty, stopBanner()]
        switch stats {
        case .success(let s):
            parts += ["<div class=\"grid\">\(brokerFacts(s))\(workflowsSection(s))\(workersSummary(s))</div>",
                      throughputSection(s), queuesSection(s)]
        case .failure(let e):
            parts.append(Layout.notice("error", "STATS: \(e.message)"))
        }
        parts += [limitsSection(), stopForms()]
        return Layout.page(title: "Overview", tab: .overview, broker: broker, body: HTML.join(parts), refreshSeconds: 10)
    }

    private var stops: [JSONValue] {
        (try? limits.get())?["stops"]?.arrayValue ?? []
    }

    private var isAdmin: Bool { (try? limits.get()) != nil }

    private func stopBanner() -> HTML {
        guard case .success = limits else { return .empty }
        if stops.isEmpty { return "<p class=\"go-state\" id=\"stop-state\">Emergency stop: <strong>none</strong> — workflows run.</p>" }
        let rows = stops.map { s -> HTML in
            let name = s["name"]?.stringValue ?? "?"
            return "<li><strong>\(name == "*" ? "every workflow (*)" : name)</strong> since \(s["at"]?.stringValue ?? "?") (\(s["source"]?.stringValue ?? "?")): \(s["reason"]?.stringValue ?? "")</li>"
        }
        return "<div class=\"notice stop\" id=\"stop-state\" role=\"alert\"><strong>EMERGENCY STOP in force</strong><ul>\(rows)</ul></div>"
    }

    private func brokerFacts(_ s: StatsSnapshot) -> HTML {
        let up = s.time.map { Format.duration(ms: $0 - s.startedAt) } ?? "–"
        return """
        <section><h2>Broker</h2><dl class="facts">
        <dt>started</dt><dd>\(Format.time(s.startedAt)) (up \(up))</dd>
        <dt>memory</dt><dd>\(Format.bytes(s.rssBytes))</dd>
        <dt>database</dt><dd>\(Format.bytes(s.dbBytes))</dd>
        <dt>turns</dt><dd>\(s.turns)</dd>
        <dt>commits</dt><dd>\(s.commits) (\(s.commitsFailed) failed)</dd>
        </dl></section>
        """
    }

    private func throughputSection(_ s: StatsSnapshot) -> HTML {
        let c = s.counters
        let rates: HTML
        if let t = throughput {
            rates = "<p class=\"rates\">Over the last \(String(format: "%.0f", t.seconds)) s: <strong>\(rate(t.succeeded))</strong> attempts succeeded/s, \(rate(t.failed)) failed/s, \(rate(t.dispatched)) dispatched/s, \(rate(t.finished)) workflows finished/s, \(rate(t.requests)) requests/s.</p>"
        } else {
            rates = "<p class=\"rates muted\">Rates appear from the next refresh (they need two samples).</p>"
        }
        func row(_ label: String, _ key: String) -> HTML { "<tr><th>\(label)</th><td>\(c[key] ?? 0)</td></tr>" }
        return """
        <section><h2>Throughput</h2>\(rates)
        <div class="scroll"><table class="numbers"><caption>since the broker started</caption>
        \(row("requests", "requests"))\(row("workflows submitted", "submitted"))\(row("workflows executed", "executed"))\(row("jobs dispatched", "dispatched"))\(row("attempts succeeded", "succeeded"))\(row("attempts failed", "failed"))\(row("retries", "retries"))\(row("timeouts", "timeouts"))\(row("heartbeat timeouts", "heartbeat_timeouts"))\(row("workers lost", "workers_lost"))\(row("fenced", "fenced"))\(row("deleted by retention", "deleted"))
        </table></div></section>
        """
    }

    private func rate(_ r: Double) -> String { String(format: r < 10 ? "%.2f" : "%.0f", r) }

    private func workflowsSection(_ s: StatsSnapshot) -> HTML {
        let live = StatsMetrics.liveStates.map { st -> HTML in
            "<li><a href=\"\(URLPart.link("/workflows", [("state", st)]))\">\(Layout.badge(st)) <strong>\(s.workflows[st] ?? 0)</strong></a></li>"
        }
        let done = StatsMetrics.finalStates.map { st -> HTML in
            "<li>\(Layout.badge(st)) <strong>\(s.finished[st] ?? 0)</strong></li>"
        }
        let waiting = s.waiting.sorted { $0.key < $1.key }.map { k, v -> HTML in "<li>\(k.replacingOccurrences(of: "_", with: " ")): <strong>\(v)</strong></li>" }
        return """
        <section><h2>Workflows</h2>
        <ul class="counts">\(live)</ul>
        <p class="muted">Finished since the broker started:</p><ul class="counts">\(done)</ul>
        <p class="muted">Waiting (queued jobs held back, STOPPED workflows):</p><ul class="counts">\(waiting)</ul>
        </section>
        """
    }

    private func queuesSection(_ s: StatsSnapshot) -> HTML {
        let limited = Dictionary(((try? limits.get())?["job_types"]?.arrayValue ?? []).compactMap { t -> (String, JSONValue)? in
            t["type"]?.stringValue.map { ($0, t) }
        }, uniquingKeysWith: { a, _ in a })
        let rows = s.jobTypes.map { t -> HTML in
            let limit: HTML = limited[t.type].map { l in
                "\(l["rate"]?.stringValue ?? "?") (burst \(l["burst"]?.intValue ?? 0), tokens \(l["tokens"]?.intValue ?? 0))"
            } ?? "–"
            return "<tr><td><code>\(t.type)</code></td><td>\(t.queued)</td><td>\(t.running)</td><td>\(t.workers)</td><td>\(limit)</td></tr>"
        }
        let table: HTML = rows.isEmpty ? "<p class=\"muted\">No job type has queued or running jobs or a worker.</p>" : """
        <div class="scroll"><table><thead><tr><th>type</th><th>queued</th><th>running</th><th>workers</th><th>rate limit</th></tr></thead>
        <tbody>\(rows)</tbody></table></div>
        """
        return "<section><h2>Queues</h2><p>\(s.running) attempts running.</p>\(table)</section>"
    }

    private func workersSummary(_ s: StatsSnapshot) -> HTML {
        let draining = s.workers.filter(\.draining).count
        let capacity = s.workers.reduce(Int64(0)) { $0 + $1.capacity }
        return "<section><h2>Workers</h2><p><a href=\"/workers\">\(s.workers.count) connected</a> (\(draining) draining), capacity \(capacity), running \(s.running).</p></section>"
    }

    private func limitsSection() -> HTML {
        switch limits {
        case .failure(let e):
            return Layout.notice("warn", "LIMITS: \(e.message)")
        case .success(let l):
            let names = (l["workflows"]?.arrayValue ?? []).map { w -> HTML in
                var parts: [String] = []
                if let max = w["max_running"]?.intValue { parts.append("running \(w["running"]?.intValue ?? 0)/\(max)") }
                if let rate = w["rate"]?.stringValue { parts.append("started \(w["started_in_window"]?.intValue ?? 0) in window of \(rate)") }
                if let next = w["next_start_at"]?.stringValue { parts.append("next start \(next)") }
                return "<li><code>\(w["name"]?.stringValue ?? "?")</code>: \(parts.joined(separator: ", "))</li>"
            }
            let clients: HTML = l["clients"].map { c in
                "<p>Per connection: \(c["max_in_flight"]?.intValue ?? 0) requests in flight at most; \(c["at_limit"]?.intValue ?? 0) connections at it now.</p>"
            } ?? .empty
            let list: HTML = names.isEmpty ? "<p class=\"muted\">No workflow name limits.</p>" : "<ul>\(names)</ul>"
            return "<section><h2>Limits</h2>\(list)\(clients)</section>"
        }
    }

    /// Stop and go forms, for keys that may (LIMITS answered: an admin or plain mode).
    private func stopForms() -> HTML {
        guard isAdmin else { return .empty }
        return """
        <section><h2>Emergency stop</h2>
        <form method="post" action="/stop" class="action danger" id="stop-form">
        <input type="hidden" name="token" value="\(token)">
        <label>Workflow name <input name="name" required maxlength="200" placeholder="* for every workflow" value="*"></label>
        <label>Reason <input name="reason" required maxlength="1024" placeholder="why (shown to everyone refused)"></label>
        <label class="confirm"><input type="checkbox" name="confirm" value="yes" required> I mean it: RUNNING workflows of this name stop now</label>
        <button type="submit">Stop</button>
        </form>
        <form method="post" action="/go" class="action" id="go-form">
        <input type="hidden" name="token" value="\(token)">
        <label>Workflow name <input name="name" required maxlength="200" value="*"></label>
        <label class="confirm"><input type="checkbox" name="confirm" value="yes" required> Lift exactly this stop (STOPPED workflows stay until EXEC)</label>
        <button type="submit">Go</button>
        </form>
        </section>
        """
    }
}
