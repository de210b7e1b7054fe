import ArgumentParser
import Foundation

/// The one exit-code table every command follows (README "Command line", `baton --help`).
/// Scripts branch on these, so a command never invents another.
enum ExitStatus: Int32, CaseIterable {
    /// Done: the workflow SUCCEEDED, or the command did what it was asked.
    case success = 0
    /// The workflow ended, but not SUCCEEDED (FAILED, CANCELLED, EXPIRED), or was left STOPPED.
    case unsuccessful = 1
    /// The broker refused the request (an ERROR reply) or could not be reached; for
    /// `baton broker` and `baton worker`, the process could not start or serve.
    case broker = 2
    /// A usage or input error: a bad flag, a workflow file that does not validate (sysexits EX_USAGE).
    case usage = 64
    /// Interrupted (Ctrl-C); a workflow already executed keeps running at the broker.
    case interrupted = 130

    var meaning: String {
        switch self {
        case .success: "success (the workflow SUCCEEDED, or the command did what it was asked)"
        case .unsuccessful: "the workflow ended unsuccessfully (FAILED, CANCELLED, EXPIRED) or was left STOPPED"
        case .broker: "the broker refused the request or could not be reached (broker, worker: could not start)"
        case .usage: "usage or input error (a bad flag, an unreadable or invalid file)"
        case .interrupted: "interrupted (Ctrl-C); the workflow keeps running at the broker"
        }
    }

    /// The table as `--help` prints it.
    static var table: String {
        "Exit codes:\n" + allCases.map { "  \(String($0.rawValue).padding(toLength: 4, withPad: " ", startingAt: 0))\($0.meaning)" }
            .joined(separator: "\n")
    }

    var exitCode: ExitCode { ExitCode(rawValue) }
}

/// An error in what the user gave (a file that cannot be read, a spec that does not
/// validate, a journal path that does not exist) found after the arguments parsed: it is
/// printed as `error: ...` with exit 64, without the usage banner, which would only bury it.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// A failure of the service itself while running (a bind that fails, a database another
/// broker holds): `error: ...`, exit 2.
struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
