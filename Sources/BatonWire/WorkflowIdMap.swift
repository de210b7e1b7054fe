/// A dictionary keyed by workflow id that hashes with `WorkflowIdKey`.
///
/// Why a wrapper and not `[WorkflowIdKey: Value]` at each use: the call sites keep
/// `map[id]` with a `String`, as they were with `[String: Value]`, and cannot forget to
/// wrap. Only the subset of `Dictionary` the broker and the store use is here.
/// The subscripts yield in place (`_modify`), so `map[id]!.jobs[b][j] = r` mutates the
/// stored value without a copy of its arrays, as `Dictionary` does.
public struct WorkflowIdMap<Value> {
    @usableFromInline var storage: [WorkflowIdKey: Value] = [:]

    @inlinable public init() {}

    @inlinable public var count: Int { storage.count }
    @inlinable public var isEmpty: Bool { storage.isEmpty }
    @inlinable public var values: Dictionary<WorkflowIdKey, Value>.Values { storage.values }
    /// The ids, in no particular order.
    @inlinable public var keys: LazyMapSequence<Dictionary<WorkflowIdKey, Value>.Keys, String> {
        storage.keys.lazy.map(\.id)
    }

    @inlinable
    public subscript(id: String) -> Value? {
        get { storage[WorkflowIdKey(id)] }
        _modify { yield &storage[WorkflowIdKey(id)] }
    }

    @inlinable
    public subscript(id: String, default fallback: @autoclosure () -> Value) -> Value {
        get { storage[WorkflowIdKey(id), default: fallback()] }
        _modify { yield &storage[WorkflowIdKey(id), default: fallback()] }
    }

    @inlinable @discardableResult
    public mutating func removeValue(forKey id: String) -> Value? {
        storage.removeValue(forKey: WorkflowIdKey(id))
    }

    /// Runs `body` on the stored value of `id` in place: one lookup, however many fields
    /// `body` changes. nil when `id` is not here.
    @inlinable
    public mutating func update<T>(_ id: String, _ body: (inout Value) -> T) -> T? {
        guard let i = storage.index(forKey: WorkflowIdKey(id)) else { return nil }
        return body(&storage.values[i])
    }

    /// Whether `id` is here (`map[id] != nil` would copy the value to compare it).
    @inlinable
    public func contains(_ id: String) -> Bool { storage.index(forKey: WorkflowIdKey(id)) != nil }

    /// Reads from the stored value of `id` in place; nil when `id` is not here.
    ///
    /// `map[id]?.field` copies the whole value first (`Dictionary`'s getter returns
    /// one): for a workflow record a retain and a release of every field, ~500
    /// instructions per read in the profile. This reaches the value through the
    /// dictionary's in-place accessor instead, hence `mutating` though it changes
    /// nothing (and, like `update`, it would copy the storage if another copy of the map
    /// shared it: the engine's never does).
    @inlinable
    public mutating func peek<T>(_ id: String, _ body: (Value) -> T) -> T? {
        guard let i = storage.index(forKey: WorkflowIdKey(id)) else { return nil }
        return Self.borrow(&storage.values[i], body)
    }

    @inlinable @inline(__always)
    static func borrow<T>(_ value: inout Value, _ body: (Value) -> T) -> T { body(value) }

    @inlinable
    public mutating func removeAll(keepingCapacity keep: Bool = false) {
        storage.removeAll(keepingCapacity: keep)
    }

    @inlinable
    public mutating func reserveCapacity(_ n: Int) { storage.reserveCapacity(n) }
}

extension WorkflowIdMap: ExpressibleByDictionaryLiteral {
    /// `[:]`, or ids and values (each id once, as `Dictionary` requires).
    @inlinable
    public init(dictionaryLiteral elements: (String, Value)...) {
        storage = Dictionary(uniqueKeysWithValues: elements.map { (WorkflowIdKey($0.0), $0.1) })
    }
}

extension WorkflowIdMap: Sequence {
    public typealias Element = (key: String, value: Value)

    public struct Iterator: IteratorProtocol {
        @usableFromInline var base: Dictionary<WorkflowIdKey, Value>.Iterator
        @inlinable init(_ base: Dictionary<WorkflowIdKey, Value>.Iterator) { self.base = base }
        @inlinable public mutating func next() -> (key: String, value: Value)? {
            base.next().map { (key: $0.key.id, value: $0.value) }
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(storage.makeIterator()) }
    @inlinable public var underestimatedCount: Int { storage.count }
}

extension WorkflowIdMap: Sendable where Value: Sendable {}
extension WorkflowIdMap: Equatable where Value: Equatable {}

/// A set of workflow ids that hashes with `WorkflowIdKey` (see `WorkflowIdMap`).
public struct WorkflowIdSet: Sendable, Equatable, Sequence {
    @usableFromInline var storage: Set<WorkflowIdKey> = []

    @inlinable public init() {}

    @inlinable public var count: Int { storage.count }
    @inlinable public var isEmpty: Bool { storage.isEmpty }

    @inlinable
    public func contains(_ id: String) -> Bool { storage.contains(WorkflowIdKey(id)) }

    @inlinable @discardableResult
    public mutating func insert(_ id: String) -> Bool { storage.insert(WorkflowIdKey(id)).inserted }

    @inlinable @discardableResult
    public mutating func remove(_ id: String) -> Bool { storage.remove(WorkflowIdKey(id)) != nil }

    @inlinable
    public mutating func removeAll(keepingCapacity keep: Bool = false) {
        storage.removeAll(keepingCapacity: keep)
    }

    @inlinable public var capacity: Int { storage.capacity }

    public typealias Iterator = LazyMapSequence<Set<WorkflowIdKey>, String>.Iterator
    @inlinable public func makeIterator() -> Iterator { storage.lazy.map(\.id).makeIterator() }
}
