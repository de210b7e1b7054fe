/// The engine's clock (see `Engine`, "Time"): monotonic milliseconds, anchored to the
/// wall clock when the broker starts, so that until the wall clock is stepped the two
/// read the same. Intervals run on it; `wallNow()` is read each turn for timestamps.
///
/// The wall clock is injectable (`BrokerOptions.wallClock`): a test steps it by an hour
/// and checks that no worker is lost and no timeout fires early.
public struct EngineClock: Sendable {
    private let wall: @Sendable () -> Int64
    private let anchorWall: Int64
    private let anchorMono: ContinuousClock.Instant

    public init(wall: @escaping @Sendable () -> Int64 = WallClock.nowMs) {
        self.wall = wall
        anchorWall = wall()
        anchorMono = .now
    }

    /// The engine's `now`: never jumps, never goes back.
    public func now() -> Int64 {
        let (s, atto) = (ContinuousClock.now - anchorMono).components
        return anchorWall + s * 1000 + atto / 1_000_000_000_000_000
    }

    /// The wall clock, for what people see and what is stored.
    public func wallNow() -> Int64 { wall() }
}
