/// A min-heap of deadlines, for the engine's timers (expiry, backoff, timeouts, long-polls).
///
/// Entries are never removed early: when a timer fires the engine checks whether it
/// still applies (lazy cancellation), which keeps every operation O(log n).
struct DeadlineHeap<Element> {
    private var items: [(at: Int64, order: UInt64, element: Element)] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var earliest: Int64? { items.first?.at }

    mutating func removeAll() { items.removeAll() }

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
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count, less(l, m) { m = l }
                if r < items.count, less(r, m) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first.element
    }

    // Ties break by insertion order so timers set in one turn fire in that order.
    private func less(_ a: Int, _ b: Int) -> Bool {
        items[a].at < items[b].at || (items[a].at == items[b].at && items[a].order < items[b].order)
    }
}
