/// STATS (spec §4.3.10) → Prometheus families, named and labelled by the Prometheus
/// conventions: `_total` on counters, base units (`_seconds`, `_bytes`), label values
/// from the reply (states, job types, error codes), never from a person's input.
///
/// Every STATS counter is cumulative since the broker's start, so the families carry
/// absolute values; `PrometheusExporter` keeps them monotonic per broker start.
enum StatsMetrics {
    /// The workflow states STATS reports as gauges and as finished counters; always
    /// written, 0 when a broker leaves one out, so a series does not come and go.
    static let liveStates = ["SUBMITTED", "RUNNING", "STOPPED"]
    static let finalStates = ["SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"]

    static func families(_ s: StatsSnapshot) -> [MetricFamily] {
        gauges(s) + counters(s)
    }

    static func gauges(_ s: StatsSnapshot) -> [MetricFamily] {
        var out: [MetricFamily] = [
            MetricFamily("baton_workflows", .gauge, "Workflows in the broker's memory, by state.",
                         label: "state", filled(s.workflows, liveStates)),
            MetricFamily("baton_jobs_queued", .gauge, "Jobs ready to run and not yet dispatched, by job type.",
                         perType(s) { $0.queued }),
            MetricFamily("baton_jobs_running", .gauge, "Attempts running now, by job type.", perType(s) { $0.running }),
            MetricFamily("baton_job_type_workers", .gauge, "Connected workers that declare the job type (draining ones included).",
                         perType(s) { $0.workers }),
            MetricFamily("baton_attempts_running", .gauge, "Attempts running now, all job types.", value: s.running),
            MetricFamily("baton_jobs_waiting", .gauge, "Queued jobs held back, by why: rate_limited or no_worker.",
                         label: "reason", filled(s.waiting.filter { $0.key != "stopped" }, ["rate_limited", "no_worker"])),
            MetricFamily("baton_workers", .gauge, "Registered worker connections.", value: Int64(s.workers.count)),
            MetricFamily("baton_workers_draining", .gauge, "Registered worker connections that are draining (capacity 0).",
                         value: Int64(s.workers.filter(\.draining).count)),
            MetricFamily("baton_broker_start_time_seconds", .gauge,
                         "When the broker process started (Unix time): counters start again from 0 when it changes.",
                         [MetricFamily.Sample(labels: [], value: Double(s.startedAt) / 1000)]),
        ]
        if let rss = s.rssBytes {
            out.append(MetricFamily("baton_process_resident_memory_bytes", .gauge, "The broker's resident memory.", value: rss))
        }
        if let db = s.dbBytes {
            out.append(MetricFamily("baton_database_bytes", .gauge, "The broker's database file and write-ahead log on disk.", value: db))
        }
        return out
    }

    static func counters(_ s: StatsSnapshot) -> [MetricFamily] {
        let c = s.counters
        func n(_ key: String) -> Int64 { c[key] ?? 0 }
        return [
            MetricFamily("baton_workflows_finished_total", .counter, "Workflows that reached a final state since the broker started, by state.",
                         label: "state", filled(s.finished, finalStates)),
            MetricFamily("baton_requests_total", .counter, "Client messages received, well-formed or not.", value: n("requests")),
            MetricFamily("baton_requests_rejected_total", .counter, "ERROR replies, by code.", label: "code", s.rejected),
            MetricFamily("baton_workflows_submitted_total", .counter, "New workflows stored by SUBMIT.", value: n("submitted")),
            MetricFamily("baton_workflows_executed_total", .counter, "EXECs that started a workflow.", value: n("executed")),
            MetricFamily("baton_jobs_dispatched_total", .counter, "JOBs sent to workers.", value: n("dispatched")),
            MetricFamily("baton_attempts_total", .counter, "Attempts that ended with a RESULT, by outcome.",
                         label: "outcome", ["succeeded": n("succeeded"), "failed": n("failed")]),
            MetricFamily("baton_retries_total", .counter, "Attempts scheduled again after one ended without success.", value: n("retries")),
            MetricFamily("baton_timeouts_total", .counter, "Attempts ended by a timeout, by kind: timeout (timeout_ms) or heartbeat (heartbeat_timeout_ms).",
                         label: "kind", ["timeout": n("timeouts"), "heartbeat": n("heartbeat_timeouts")]),
            MetricFamily("baton_workers_lost_total", .counter, "Workers counted dead or unreachable.", value: n("workers_lost")),
            MetricFamily("baton_fenced_total", .counter, "RESULTs and PROGRESS dropped by fencing.", value: n("fenced")),
            MetricFamily("baton_workflows_deleted_total", .counter, "Final workflows deleted by retention.", value: n("deleted")),
            MetricFamily("baton_turns_total", .counter, "Broker turns.", value: s.turns),
            MetricFamily("baton_commits_total", .counter, "Transactions committed (one fsync each).", value: s.commits),
            MetricFamily("baton_commits_failed_total", .counter, "Commits that failed.", value: s.commitsFailed),
        ]
    }

    static func histograms(_ s: StatsSnapshot) -> [HistogramFamily] {
        var out: [HistogramFamily] = []
        if let h = s.turnMessages {
            out.append(HistogramFamily(name: "baton_turn_messages", help: "Messages each broker turn read.", histogram: h))
        }
        if let h = s.commitSeconds {
            out.append(HistogramFamily(name: "baton_commit_duration_seconds", help: "How long each commit took.", histogram: h))
        }
        return out
    }

    /// `values` with every key of `keys` present (0 when missing).
    private static func filled(_ values: [String: Int64], _ keys: [String]) -> [String: Int64] {
        var out = values
        for k in keys where out[k] == nil { out[k] = 0 }
        return out
    }

    private static func perType(_ s: StatsSnapshot, _ value: (StatsSnapshot.JobType) -> Int64) -> [MetricFamily.Sample] {
        s.jobTypes.map { MetricFamily.Sample(labels: [MetricFamily.Label(name: "type", value: $0.type)], value: Double(value($0))) }
    }
}
