import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Small Linux helpers: clocks, /proc readers, free ports, temporary directories.

/// Nanoseconds on the monotonic clock (never jumps; every duration in the bench uses it).
func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func sleepMs(_ ms: Double) {
    guard ms > 0 else { return }
    usleep(UInt32(ms * 1000))
}

/// Sleeps until the monotonic clock reaches `deadline`.
func sleepUntil(_ deadline: UInt64) {
    while true {
        let now = nowNs()
        if now >= deadline { return }
        let left = deadline - now
        usleep(UInt32(min(left / 1000, 100_000)))
    }
}

/// Errors of the bench itself.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// What /proc says about one process.
enum Proc {
    static let clockTicks = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime in seconds (fields 14 and 15 of /proc/<pid>/stat), nil once it is gone.
    static func cpuSeconds(_ pid: String) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")")
        else { return nil }
        // The command name (field 2) may hold spaces; fields after it are plain.
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field n is fields[n - 3].
        guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
        return (u + s) / clockTicks
    }

    static func cpuSeconds(_ pid: pid_t) -> Double? { cpuSeconds(String(pid)) }

    /// This process (every thread, the ZeroMQ I/O thread included).
    static func selfCPUSeconds() -> Double { cpuSeconds("self") ?? 0 }

    /// A `/proc/<pid>/status` field in kB (VmRSS, VmHWM), nil once it is gone.
    static func statusKB(_ pid: pid_t, _ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let v = Int(parts[1]) { return v }
        }
        return nil
    }

    static func rssKB(_ pid: pid_t) -> Int? { statusKB(pid, "VmRSS") }

    /// Machine-wide CPU seconds from the first line of /proc/stat: busy (user, nice,
    /// system, irq, softirq) and steal (taken by the hypervisor).
    static func machineCPU() -> (busy: Double, steal: Double) {
        let text = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return (0, 0) }
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return (0, 0) }
        return ((v[0] + v[1] + v[2] + v[5] + v[6]) / clockTicks, v[7] / clockTicks)
    }

    /// CPU seconds of this process and of its children that were waited for.
    static func selfAndChildrenCPUSeconds() -> Double {
        var own = rusage(), children = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &own)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
        func secs(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return secs(own.ru_utime) + secs(own.ru_stime) + secs(children.ru_utime) + secs(children.ru_stime)
    }

    /// The 1-, 5- and 15-minute load averages: other work on a shared machine shows here.
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// Ports free right now on 127.0.0.1: bound to port 0 together (so they differ), then
/// released for the broker to bind. Another process could take one in between; the
/// broker would then fail to start and say so.
func freePorts(_ count: Int) throws -> [Int] {
    var fds: [Int32] = []
    defer { for fd in fds { close(fd) } }
    var ports: [Int] = []
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
        fds.append(fd)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Int32 in
                guard bind(fd, sa, len) == 0 else { return -1 }
                return getsockname(fd, sa, &len)
            }
        }
        guard rc == 0 else { throw BenchError("bind/getsockname: errno \(errno)") }
        ports.append(Int(UInt16(bigEndian: addr.sin_port)))
    }
    return ports
}

/// A fresh directory under `root`, removed by `removeTree`.
func makeTempDir(_ root: String, _ prefix: String) throws -> String {
    var template = Array("\(root)/\(prefix).XXXXXX".utf8CString)
    guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw BenchError("mkdtemp under \(root): errno \(errno)")
    }
    return String(cString: p)
}

func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

func fileSize(_ path: String) -> Int64 {
    let attrs = try? FileManager.default.attributesOfItem(atPath: path)
    return (attrs?[.size] as? NSNumber)?.int64Value ?? 0
}

/// The machine, as the results state it.
struct Machine: Codable {
    var cpus: Int
    var cpuModel: String
    var kernel: String
    var memoryGiB: Double
    /// Filesystem type under the temporary directory, where every database lives. On
    /// tmpfs fsync costs nothing, and durable figures would mean nothing.
    var databaseFilesystem: String
    var libzmq: String

    static func describe(tempRoot: String) -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var model = "unknown"
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            break
        }
        var u = utsname()
        uname(&u)
        let kernel = withUnsafeBytes(of: &u.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let (major, minor, patch) = Context.libraryVersion
        return Machine(
            cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model, kernel: kernel,
            memoryGiB: (Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824 * 10).rounded() / 10,
            databaseFilesystem: filesystemType(of: tempRoot), libzmq: "\(major).\(minor).\(patch)")
    }

    /// The type of the mount that holds `path` (longest mount-point prefix in /proc/mounts).
    static func filesystemType(of path: String) -> String {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        let real = (path as NSString).resolvingSymlinksInPath
        var best = ("", "unknown")
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 3 else { continue }
            let point = String(f[1])
            let prefix = point.hasSuffix("/") ? point : point + "/"
            if (real == point || real.hasPrefix(prefix)) && point.count >= best.0.count {
                best = (point, "\(f[2]) (\(f[0]) on \(point))")
            }
        }
        return best.1
    }
}
