import Foundation
import XCTest

/// Looking at processes a test's shell job started, by pid.
enum Processes {
    /// The pids a script wrote to `path`, one a line, once the file exists (scripts write
    /// a temporary file and rename it, so a file seen is complete).
    static func waitForPids(at path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Int32] {
        let deadline = Date() + 10
        while Date() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                return text.split(separator: "\n").compactMap { Int32($0) }
            }
            usleep(10_000)
        }
        XCTFail("the script never wrote its pids", file: file, line: line)
        return []
    }

    /// Alive and not a zombie (a killed orphan may wait for a reaper that a container's
    /// pid 1 never is; it is dead all the same).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Fails unless `pid` is gone within `seconds` (a hang bound: a SIGKILLed process
    /// needs a moment to exit); kills it if it is not, so no test leaves it behind.
    static func assertGone(_ pid: Int32, _ what: String, within seconds: Double = 10,
                           file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date() + seconds
        while isAlive(pid), Date() < deadline { usleep(10_000) }
        if isAlive(pid) {
            kill(pid, SIGKILL)
            XCTFail("\(what) (pid \(pid)) is still running", file: file, line: line)
        }
    }
}
