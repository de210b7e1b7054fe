/// Commands a client sends to the broker (frame 2 of a client request).
public enum ClientCommand: String, Sendable, CaseIterable {
    case submit = "SUBMIT"
    case exec = "EXEC"
    case status = "STATUS"
    case watch = "WATCH"
    case cancel = "CANCEL"
    case list = "LIST"
    case stop = "STOP"
    case resume = "RESUME"
    case ping = "PING"
    /// The rate limits and stops in force, with their live levels (`OK` reply).
    case limits = "LIMITS"
    /// The broker's statistics: gauges, counters since start, histograms (`OK` reply).
    case stats = "STATS"
    /// A consistent copy of the live database, written by the broker (`OK` reply).
    case backup = "BACKUP"
}

/// Commands the broker sends back to a client (frame 2 of a reply).
public enum ReplyCommand: String, Sendable, CaseIterable {
    case id = "ID"
    case status = "STATUS"
    case events = "EVENTS"
    case list = "LIST"
    case ok = "OK"
    case pong = "PONG"
    case error = "ERROR"
}

/// Commands on the worker endpoint, both directions (frame 2).
public enum WorkerCommand: String, Sendable, CaseIterable {
    case ready = "READY"
    case job = "JOB"
    case result = "RESULT"
    case heartbeat = "HEARTBEAT"
    case cancel = "CANCEL"
    case disconnect = "DISCONNECT"
    /// Worker → broker while a job runs: a sign of life for that attempt (its
    /// `heartbeat_timeout_ms`) with optional details for people (spec §9.2).
    case progress = "PROGRESS"
}

extension ReplyCommand {
    /// The command's frame: one array per command, shared by every reply (a retain),
    /// not a new array of the raw value's bytes per reply.
    public var frame: [UInt8] {
        switch self {
        case .id: Self.frames.id
        case .status: Self.frames.status
        case .events: Self.frames.events
        case .list: Self.frames.list
        case .ok: Self.frames.ok
        case .pong: Self.frames.pong
        case .error: Self.frames.error
        }
    }

    private static let frames = (
        id: Array("ID".utf8), status: Array("STATUS".utf8), events: Array("EVENTS".utf8), list: Array("LIST".utf8),
        ok: Array("OK".utf8), pong: Array("PONG".utf8), error: Array("ERROR".utf8))
}

extension WorkerCommand {
    /// The command's frame, shared by every message (see `ReplyCommand.frame`).
    public var frame: [UInt8] { Self.frames[self]! }

    private static let frames: [WorkerCommand: [UInt8]] =
        Dictionary(uniqueKeysWithValues: allCases.map { ($0, Array($0.rawValue.utf8)) })
}
