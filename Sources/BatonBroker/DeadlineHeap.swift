import HeapModule

/// A min-heap of deadlines, for the engine's timers (expiry, backoff, timeouts, long-polls),
/// on swift-collections' `Heap`.
///
/// Entries are not removed one by one: when a timer fires the engine checks whether it
/// still applies (lazy cancellation), which keeps every operation O(log n). Stale
/// entries are dropped in bulk by `removeAll(where:)`, which the engine calls when the
/// heap has doubled since its last compaction, so memory stays proportional to the
/// timers that still apply (a SUBMIT's 24-hour expiry would otherwise outlive its
/// workflow by a day).
///
/// Ties break by insertion order, so timers set in one turn fire in that order: each
/// entry carries a counter, which also makes every entry distinct (`Heap` needs a total
/// order, and the elements themselves are not comparable).
struct DeadlineHeap<Element> {
    private struct Entry: Comparable {
        var at: Int64
        var order: UInt64
        var element: Element

        static func < (a: Entry, b: Entry) -> Bool { (a.at, a.order) < (b.at, b.order) }
        static func == (a: Entry, b: Entry) -> Bool { a.at == b.at && a.order == b.order }
    }

    private var heap = Heap<Entry>()
    private var counter: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var earliest: Int64? { heap.min?.at }

    /// Drops every entry and gives the storage back.
    mutating func removeAll() { heap = Heap() }

    /// Drops every entry `shouldRemove` picks (O(n)).
    mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        heap.removeAll { shouldRemove($0.element) }
        if heap.isEmpty { heap = Heap() }  // give the storage back, not just the entries
    }

    mutating func insert(_ element: Element, at deadline: Int64) {
        counter &+= 1
        heap.insert(Entry(at: deadline, order: counter, element: element))
    }

    /// Inserts many at once: O(n) heapify instead of n × O(log n) (a restart's million
    /// expiry timers).
    mutating func insert(contentsOf elements: some Sequence<(Element, at: Int64)>) {
        var entries: [Entry] = []
        entries.reserveCapacity(elements.underestimatedCount)
        for (element, deadline) in elements {
            counter &+= 1
            entries.append(Entry(at: deadline, order: counter, element: element))
        }
        heap.insert(contentsOf: entries)
    }

    /// Removes and returns the earliest entry due at or before `now`.
    mutating func popDue(_ now: Int64) -> Element? {
        guard let first = heap.min, first.at <= now else { return nil }
        return heap.removeMin().element
    }
}
