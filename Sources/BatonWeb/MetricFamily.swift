/// One Prometheus metric family as plain values: what the exporter writes for one STATS
/// reply, before any registry sees it (so the mapping is tested without one).
struct MetricFamily: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Grows within one broker start (STATS "since start").
        case counter
        /// The value now.
        case gauge
    }

    struct Sample: Sendable, Equatable {
        var labels: [Label]
        var value: Double
    }

    struct Label: Sendable, Equatable {
        var name: String
        var value: String
    }

    var name: String
    var help: String
    var kind: Kind
    var samples: [Sample]

    init(_ name: String, _ kind: Kind, _ help: String, _ samples: [Sample]) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }

    /// A family of one unlabelled sample.
    init(_ name: String, _ kind: Kind, _ help: String, value: Int64) {
        self.init(name, kind, help, [Sample(labels: [], value: Double(value))])
    }

    /// One sample per key, labelled `label="key"`, in key order (the text is stable).
    init(_ name: String, _ kind: Kind, _ help: String, label: String, _ values: [String: Int64]) {
        self.init(name, kind, help, values.sorted { $0.key < $1.key }.map {
            Sample(labels: [Label(name: label, value: $0.key)], value: Double($0.value))
        })
    }
}

/// A histogram family from STATS, bounds as the broker chose them.
struct HistogramFamily: Sendable, Equatable {
    var name: String
    var help: String
    var histogram: StatsSnapshot.Histogram
}
