import BatonWire
@testable import BatonWeb

/// STATS replies as a broker writes them (spec §4.3.10), for the pages and the exporter.
enum Fixtures {
    static func stats(startedAt: String = "2026-12-05T10:00:00.000Z", time: String = "2026-12-05T10:05:00.000Z",
                      succeeded: Int64 = 3, requests: Int64 = 40, rejected: [String: JSONValue] = ["not_found": 2],
                      types: [JSONValue]? = nil) -> [String: JSONValue] {
        [
            "time": .string(time), "started_at": .string(startedAt),
            "workflows": ["SUBMITTED": 1, "RUNNING": 2, "STOPPED": 0],
            "finished": ["SUCCEEDED": .int(succeeded), "FAILED": 1, "CANCELLED": 0, "EXPIRED": 0],
            "job_types": .array(types ?? [["type": "echo", "queued": 4, "running": 2, "workers": 1]]),
            "running": 2,
            "waiting": ["rate_limited": 0, "no_worker": 4, "stopped": 0],
            "workers": [["worker": "w<1>", "types": ["echo"], "capacity": 4, "running": 2, "draining": false,
                         "connected_at": "2026-12-05T10:00:01.000Z", "last_seen": "2026-12-05T10:04:59.000Z"]],
            "counters": ["requests": .int(requests), "rejected": .object(rejected), "submitted": 6, "executed": 6,
                         "dispatched": 12, "succeeded": 10, "failed": 2, "retries": 1, "timeouts": 1, "heartbeat_timeouts": 0,
                         "workers_lost": 0, "fenced": 0],
            "turns": ["count": 100, "messages": ["le": [1, 2, 4], "counts": [50, 80, 95], "count": 100, "sum": 170]],
            "commits": ["count": 30, "failed": 0,
                        "seconds": ["le": [.double(0.001), .double(0.01)], "counts": [20, 29], "count": 30, "sum": .double(0.125)]],
            "process": ["rss_bytes": 40_000_000, "db_bytes": 300_000],
        ]
    }

    static func snapshot(_ json: [String: JSONValue] = stats()) -> StatsSnapshot {
        try! StatsSnapshot(json: json)
    }

    static let hostile = "<script>alert('x')</script>&\"quoted\""
}
