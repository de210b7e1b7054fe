/// A min-heap of deadlines, for the engine's timers (expiry, backoff, timeouts, long-polls).
///
/// Entries are not removed one by one: when a timer fires the engine checks whether it
/// still applies (lazy cancellation), which keeps every operation O(log n). Stale
/// entries are dropped in bulk by `removeAll(where:)`, which the engine calls when the
/// heap has doubled since its last compaction, so memory stays proportional to the
/// timers that still apply (a SUBMIT's 24-hour expiry would otherwise outlive its
/// workflow by a day).
struct DeadlineHeap<Element> {
    private var items: [(at: Int64, order: UInt64, element: Element)] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var earliest: Int64? { items.first?.at }

    mutating func removeAll() { items.removeAll() }

    /// Drops every entry `shouldRemove` picks, and restores the heap order (O(n)).
    /// Entries keep their insertion order for ties.
    mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        items.removeAll { shouldRemove($0.element) }
        if items.isEmpty { items = [] }  // give the storage back, not just the entries
        var i = items.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    mutating func insert(_ element: Element, at deadline: Int64) {
        counter &+= 1
        items.append((deadline, counter, element))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the earliest entry due at or before `now`.
    mutating func popDue(_ now: Int64) -> Element? {
        guard let first = items.first, first.at <= now else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            siftDown(0)
        }
        return first.element
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, less(l, m) { m = l }
            if r < items.count, less(r, m) { m = r }
            if m == i { return }
            items.swapAt(i, m)
            i = m
        }
    }

    // Ties break by insertion order so timers set in one turn fire in that order.
    private func less(_ a: Int, _ b: Int) -> Bool {
        items[a].at < items[b].at || (items[a].at == items[b].at && items[a].order < items[b].order)
    }
}
