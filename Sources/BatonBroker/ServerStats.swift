import BatonWire
import Foundation

/// The event loop's half of STATS (spec §4.3.10): what only the server sees: turns,
/// requests as received, ERROR replies as sent, the process and its database file.
/// Bumped on the loop's thread only.
struct ServerStats {
    let startedAt: Int64
    /// The database file (nil: in memory), for `db_bytes`.
    let databasePath: String?
    var turns = 0
    var turnMessages = Histogram.turnMessages()
    /// Client requests received (well-formed or not).
    var requests = 0
    /// ERROR replies sent, by code.
    var rejected: [String: Int] = [:]

    init(startedAt: Int64, databasePath: String?) {
        self.startedAt = startedAt
        self.databasePath = databasePath
    }

    mutating func countTurn(messages: Int) {
        turns += 1
        turnMessages.observe(Double(messages))
    }

    mutating func countReply(_ command: ReplyCommand, _ body: @autoclosure () -> JSONValue) {
        guard command == .error else { return }
        let body = body()
        if case .string(let code)? = body["code"] { rejected[code, default: 0] += 1 }
    }

    /// The engine's fields with the server's added: the whole STATS reply.
    func reply(adding fields: [String: JSONValue], commits: Committer.CommitStats) -> JSONValue {
        var body = fields
        body["started_at"] = .string(Timestamp.format(ms: startedAt))
        var counters = body["counters"]?.objectValue ?? [:]
        counters["requests"] = .int(Int64(requests))
        counters["rejected"] = .object(rejected.mapValues { .int(Int64($0)) })
        counters["deleted"] = .int(Int64(commits.deleted))
        body["counters"] = .object(counters)
        body["turns"] = ["count": .int(Int64(turns)), "messages": turnMessages.json]
        body["commits"] = commits.json
        body["process"] = ["rss_bytes": .int(Self.residentBytes()), "db_bytes": .int(databaseBytes())]
        return .object(body)
    }

    /// Resident set size from /proc/self/statm (pages × page size); 0 where there is none.
    static func residentBytes() -> Int64 {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return 0 }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The database file and its write-ahead log, as on disk now.
    func databaseBytes() -> Int64 {
        guard let path = databasePath else { return 0 }
        return [path, path + "-wal"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }
}
