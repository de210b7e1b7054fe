/// A small string-keyed table, sorted by key once when the config is read.
///
/// The `same_args` and `args` rules walk their job types and arg names in sorted order,
/// so the first violation a denial names does not depend on hashing. As dictionaries
/// they were sorted again at every check: an array allocated and sorted per rule per
/// SUBMIT and EXEC, about half of a policy check's cost in `scripts/profile`. Looking a
/// key up is a binary search with `String <`, the order the entries are sorted in:
/// these tables hold a handful of job types or arg names, where a search beats hashing
/// the key.
public struct SortedTable<Value: Equatable & Sendable>: Equatable, Sendable {
    /// The entries by key, ascending; each key once.
    public let entries: [(key: String, value: Value)]

    public init(_ dictionary: [String: Value]) {
        entries = dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    }

    public var dictionary: [String: Value] {
        Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value) })
    }

    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: String) -> Value? {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].key < key { low = mid + 1 } else { high = mid }
        }
        return low < entries.count && entries[low].key == key ? entries[low].value : nil
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension SortedTable: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, Value)...) {
        self.init(Dictionary(uniqueKeysWithValues: elements))
    }
}

extension SortedTable: Decodable where Value: Decodable {
    /// Decoded as the mapping it is in the config (same paths in errors).
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode([String: Value].self))
    }
}
