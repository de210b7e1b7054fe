import CoreMetrics
import Foundation
import Logging
import Prometheus

/// `/metrics`: the broker's STATS as Prometheus text, asked for on each scrape. The
/// broker never speaks HTTP: this process is its exporter, the usual pattern for a
/// system with its own protocol.
///
/// STATS counters are absolute values since the broker's start. swift-prometheus
/// `Counter`s only go up (`increment(by:)`), which is what keeps them honest here:
///
/// - Counters live in a registry of one **generation**, one broker start (`started_at`).
///   Each scrape increments each counter by the difference to the value it last wrote,
///   so within a generation no counter the exporter writes ever goes down.
/// - When `started_at` changes (the broker restarted), or a counter would go down
///   within a generation (a broker bug; logged), the generation's registry is dropped and
///   a new one starts from the new absolute values: a counter reset, which Prometheus's
///   `rate()` handles, made visible by `baton_broker_start_time_seconds` changing and by
///   `baton_exporter_broker_restarts_total`.
/// - Gauges are written to a fresh registry on every scrape, so a job type that is gone
///   leaves no stale series.
/// - Histograms are written as text (`HistogramText` says why).
///
/// The exporter's own figures go through swift-metrics (`CoreMetrics`) with a factory
/// bound to a registry of their own, never to the global `MetricsSystem`.
public final class PrometheusExporter: @unchecked Sendable {
    private struct Generation {
        let startedAt: Int64
        let registry = PrometheusCollectorRegistry()
        /// Per series key (name and labels), its counter and the value last written.
        var counters: [String: (Prometheus.Counter, Int64)] = [:]
    }

    private let logger: Logger
    /// Serialises scrapes: one generation update and its text at a time.
    private let lock = NSLock()
    private var generation: Generation?
    private let ownRegistry = PrometheusCollectorRegistry()
    private let restarts: CoreMetrics.Counter
    private let failedScrapes: CoreMetrics.Counter
    private let scrapeTimer: CoreMetrics.Timer

    public init(logger: Logger) {
        self.logger = logger
        var factory = PrometheusMetricsFactory(registry: ownRegistry)
        factory.durationHistogramBuckets["baton_exporter_scrape_duration_seconds"] =
            [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)]
        restarts = CoreMetrics.Counter(label: "baton_exporter_broker_restarts_total", factory: factory)
        failedScrapes = CoreMetrics.Counter(label: "baton_exporter_scrape_failures_total", factory: factory)
        scrapeTimer = CoreMetrics.Timer(label: "baton_exporter_scrape_duration_seconds", factory: factory)
    }

    /// The text for one scrape. `stats` nil: STATS did not answer (`baton_up 0` and no
    /// broker series, so nothing stale is shown as current).
    public func render(_ stats: StatsSnapshot?, scrapeNanoseconds: Int64) -> String {
        lock.lock()
        defer { lock.unlock() }
        scrapeTimer.recordNanoseconds(scrapeNanoseconds)
        let gauges = PrometheusCollectorRegistry()
        gauges.makeGauge(descriptor: Self.descriptor("baton_up", "1 when the broker answered STATS on this scrape, else 0."))
            .set(to: stats == nil ? 0.0 : 1.0)
        var text = ""
        if let stats {
            updateCounters(stats)
            write(StatsMetrics.gauges(stats), into: gauges)
            text += gauges.emitToString()
            text += generation?.registry.emitToString() ?? ""
            for h in StatsMetrics.histograms(stats) { HistogramText.write(h, into: &text) }
        } else {
            failedScrapes.increment()
            text += gauges.emitToString()
        }
        text += ownRegistry.emitToString()
        return text
    }

    private func updateCounters(_ stats: StatsSnapshot) {
        let families = StatsMetrics.counters(stats)
        if let g = generation, g.startedAt != stats.startedAt {
            logger.info("broker restarted (started_at \(g.startedAt) → \(stats.startedAt)): its counters start again from 0")
            restarts.increment()
            generation = nil
        } else if let g = generation, let key = firstDecrease(families, in: g) {
            logger.warning("counter \(key) went down without a broker restart; starting the exporter's counters again")
            generation = nil
        }
        var g = generation ?? Generation(startedAt: stats.startedAt)
        for family in families {
            for sample in family.samples {
                let key = Self.key(family.name, sample.labels)
                let value = Int64(sample.value)
                let (counter, last) = g.counters[key] ?? (
                    g.registry.makeCounter(descriptor: Self.descriptor(family.name, family.help), labels: Self.pairs(sample.labels)), 0)
                if value > last { counter.increment(by: value - last) }
                g.counters[key] = (counter, max(value, last))
            }
        }
        generation = g
    }

    private func firstDecrease(_ families: [MetricFamily], in g: Generation) -> String? {
        for family in families {
            for sample in family.samples {
                let key = Self.key(family.name, sample.labels)
                if let (_, last) = g.counters[key], Int64(sample.value) < last { return key }
            }
        }
        return nil
    }

    private func write(_ families: [MetricFamily], into registry: PrometheusCollectorRegistry) {
        for family in families {
            for sample in family.samples {
                registry.makeGauge(descriptor: Self.descriptor(family.name, family.help), labels: Self.pairs(sample.labels))
                    .set(to: sample.value)
            }
        }
    }

    /// The whole name as `metricName` (no namespace or unit to join: the names above are
    /// already whole).
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private static func pairs(_ labels: [MetricFamily.Label]) -> [(String, String)] {
        labels.map { ($0.name, $0.value) }
    }

    private static func key(_ name: String, _ labels: [MetricFamily.Label]) -> String {
        name + "{" + labels.map { "\($0.name)=\($0.value)" }.joined(separator: ",") + "}"
    }
}
