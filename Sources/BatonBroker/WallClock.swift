#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock milliseconds since the Unix epoch: the engine's `now`.
///
/// Wall-clock because the engine's times are stored and shown (timestamps, backoff and
/// expiry deadlines survive restarts). Its weakness: a clock jump moves those deadlines
/// (a known weakness in the README). Intervals the loop measures for itself (heap trim,
/// reload retries) use `ContinuousClock` instead, which never jumps.
public enum WallClock {
    public static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
