import ArgumentParser
import BatonClient
import BatonWire

/// `baton limits`: what holds tools back right now (LIMITS).
struct LimitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits", abstract: "Show the rate limits and emergency stops in force, their live levels, and what waits on them.")

    @Flag(help: "Print the LIMITS reply as JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let body = try withClient(client) { try $0.limits() }
        if json {
            print(JSONWriter.string(.object(body)))
            return
        }
        print(Self.render(body))
    }

    static func render(_ body: [String: JSONValue]) -> String {
        var lines: [String] = []
        let stops = body["stops"]?.arrayValue ?? []
        lines.append(stops.isEmpty ? "emergency stops: none" : "emergency stops:")
        for s in stops {
            let name = s["name"]?.stringValue ?? "?"
            lines.append("  \(name == "*" ? "* (every workflow)" : name)  since \(s["at"]?.stringValue ?? "?")  by \(s["source"]?.stringValue ?? "?"): \(s["reason"]?.stringValue ?? "")")
        }
        let types = body["job_types"]?.arrayValue ?? []
        lines.append(types.isEmpty ? "job type limits: none" : "job type limits:")
        for t in types {
            var l = "  \(t["type"]?.stringValue ?? "?")  \(t["rate"]?.stringValue ?? "?") burst \(t["burst"]?.intValue ?? 0)"
            l += "  tokens \(t["tokens"]?.intValue ?? 0)  queued \(t["queued"]?.intValue ?? 0)"
            if let next = t["next_token_at"]?.stringValue { l += "  next token \(next)" }
            if let since = t["held_since"]?.stringValue { l += "  holding jobs since \(since)" }
            lines.append(l)
        }
        let names = body["workflows"]?.arrayValue ?? []
        lines.append(names.isEmpty ? "workflow name limits: none" : "workflow name limits:")
        for w in names {
            var l = "  \(w["name"]?.stringValue ?? "?")"
            if let max = w["max_running"]?.intValue { l += "  running \(w["running"]?.intValue ?? 0)/\(max)" }
            if let rate = w["rate"]?.stringValue { l += "  started \(w["started_in_window"]?.intValue ?? 0) in window of \(rate)" }
            if let next = w["next_start_at"]?.stringValue { l += "  next start \(next)" }
            lines.append(l)
        }
        if let c = body["clients"] {
            lines.append("client limit: \(c["max_in_flight"]?.intValue ?? 0) requests in flight; connections at it now: \(c["at_limit"]?.intValue ?? 0)")
        }
        return lines.joined(separator: "\n")
    }
}
