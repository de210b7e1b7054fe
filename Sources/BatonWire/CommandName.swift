/// A command frame's bytes packed into integers, so a received frame finds its command
/// without first becoming a `String`.
///
/// Why: `String(decoding:)` of the frame and `init?(rawValue:)` over it cost ~400
/// instructions per message in `scripts/profile` (the String made, compared with each
/// case's raw value, released), on every request and worker message. Command names are
/// ASCII of at most 16 bytes; packed with their length, two names are equal exactly when
/// their packs are.
struct CommandName: Equatable {
    let low: UInt64, high: UInt64, count: Int

    /// The pack of `bytes`, or nil when they are longer than any command name can be.
    init?<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        guard bytes.count <= 16 else { return nil }
        var low: UInt64 = 0, high: UInt64 = 0, i = 0
        for b in bytes {
            if i < 8 { low |= UInt64(b) &<< (8 * UInt64(i)) } else { high |= UInt64(b) &<< (8 * UInt64(i - 8)) }
            i += 1
        }
        (self.low, self.high, self.count) = (low, high, i)
    }

    /// Each case with its name's pack, for `lookup`.
    static func table<C: RawRepresentable<String> & CaseIterable>(_: C.Type) -> [(CommandName, C)] {
        C.allCases.map { (CommandName($0.rawValue.utf8)!, $0) }
    }

    /// The case of `table` named by `frame`, or nil.
    static func lookup<C>(_ frame: [UInt8], in table: [(CommandName, C)]) -> C? {
        guard let name = CommandName(frame) else { return nil }
        for (n, c) in table where n == name { return c }
        return nil
    }
}

extension ClientCommand {
    /// The command named by a request's frame 2 (its exact bytes), or nil.
    public init?(frame: [UInt8]) {
        guard let c = CommandName.lookup(frame, in: Self.names) else { return nil }
        self = c
    }

    private static let names = CommandName.table(ClientCommand.self)
}

extension WorkerCommand {
    /// The command named by a worker message's frame 2 (its exact bytes), or nil.
    public init?(frame: [UInt8]) {
        guard let c = CommandName.lookup(frame, in: Self.names) else { return nil }
        self = c
    }

    private static let names = CommandName.table(WorkerCommand.self)
}
