// swift-tools-version:6.1
import PackageDescription

// The one-way module graph (ARCHITECTURE.md draws it). Two roots that import nothing of
// Baton's: BatonWire (protocol values, no I/O) and CZeroMQ -> ZeroMQ (libzmq, no logic).
//
//   BatonWire ──> BatonStore ──> BatonBroker <── ZeroMQ <── CZeroMQ
//                     └── CBatonSQLite (sqlite3_config, which Swift cannot call: variadic)
//       │                           ▲   ▲ ▲ └── CBatonLibc (libc headers Glibc does not export)
//       │                           │   │ └── BatonKeys <── ZeroMQ (CURVE certificates, allowlists by role)
//       ├──> BatonConfig <── Yams ──┘   │   (the YAML config and policies: pure values)
//       ├──> BatonClient <── ZeroMQ     │
//       └──> BatonWorker <── ZeroMQ, Subprocess
//   BatonWire ──> BatonLogging <── swift-log (the log lines, text or JSON; testable outside the CLI)
//   BatonWeb ──> BatonClient, BatonWire, Hummingbird, Metrics, Prometheus, ServiceLifecycle
//                (the dashboard and Prometheus exporter: a client of the broker over the wire)
//   baton (CLI) ──> BatonBroker, BatonClient, BatonConfig, BatonKeys, BatonWorker, BatonWeb: it parses arguments and
//                   prints (and CBatonLibc, for line-buffered stdout; BatonLogging, for its log lines; CMimalloc, the
//                   process's allocator); `baton web` only parses and starts BatonWeb.
//
// BatonClient and BatonWorker sit beside the broker, not above it: neither imports it.
let package = Package(
    name: "Baton",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "baton", targets: ["baton"]),
        .library(name: "BatonClient", targets: ["BatonClient"]),
        .library(name: "BatonWorker", targets: ["BatonWorker"]),
        // For Fuzz/ (its own package, built only by scripts/fuzz), which fuzzes the decoders.
        .library(name: "BatonWire", targets: ["BatonWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // libc declarations the Glibc module does not export (malloc_trim from <malloc.h>).
        .systemLibrary(name: "CBatonLibc"),
        // SQLite's process-wide settings (sqlite3_config is variadic, which Swift cannot call).
        .systemLibrary(name: "CBatonSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // mimalloc, the `baton` executable's malloc (linked by it alone: an allocator is the
        // process's choice, so the libraries stay on whatever the process runs). glibc's
        // malloc and free were ~20k instructions per one-job workflow in `scripts/profile`
        // (SQLite frees ~40 blocks per workflow, Swift allocates ~40); with mimalloc the
        // broker's e2e went 254-258k -> 241-245k, fan-out -3k a job, SUBMIT -5k.
        .systemLibrary(name: "CMimalloc", providers: [.apt(["libmimalloc-dev"])]),
        .target(name: "BatonWire"),
        // CURVE certificates (the zcert/pyzmq file format) and the allowlists of keys by role.
        .target(name: "BatonKeys", dependencies: ["ZeroMQ"]),
        .target(
            name: "BatonStore",
            dependencies: [
                "BatonWire", "CBatonSQLite", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]),
        .target(
            name: "BatonBroker",
            dependencies: [
                "BatonWire", "BatonStore", "BatonConfig", "BatonKeys", "ZeroMQ", "CBatonLibc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]),
        // The broker's YAML config and its policies: pure values, no I/O beyond reading the file.
        .target(name: "BatonConfig", dependencies: ["BatonWire", .product(name: "Yams", package: "Yams")]),
        .target(name: "BatonClient", dependencies: ["BatonWire", "ZeroMQ"]),
        // The log lines of `baton broker`, `baton worker` and `baton web` (text or JSON): a
        // module of its own so its tests can import it (the CLI is an executable).
        .target(name: "BatonLogging", dependencies: ["BatonWire", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "BatonWorker",
            dependencies: [
                "BatonWire", "ZeroMQ", .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]),
        // The web dashboard and Prometheus exporter (`baton web`): a client of the broker over
        // the wire, so it adds nothing to the broker's process.
        .target(
            name: "BatonWeb",
            dependencies: [
                "BatonClient", "BatonWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "baton",
            dependencies: [
                "BatonBroker", "BatonWeb", "BatonClient", "BatonConfig", "BatonKeys", "BatonWorker", "BatonWire", "ZeroMQ", "CBatonLibc",
                "CMimalloc", "BatonLogging", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The benchmark (scripts/bench): a load generator against real broker and worker processes.
        .executableTarget(
            name: "baton-bench",
            dependencies: [
                "BatonWire", "BatonStore", "ZeroMQ",
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "BatonWireTests", dependencies: ["BatonWire"]),
        .testTarget(name: "BatonKeysTests", dependencies: ["BatonKeys", "ZeroMQ"]),
        .testTarget(
            name: "BatonStoreTests",
            dependencies: ["BatonStore", "BatonWire", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "BatonBrokerTests",
            dependencies: [
                "BatonBroker", "BatonStore", "BatonWire", "BatonConfig", "BatonKeys", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "BatonConfigTests", dependencies: ["BatonConfig", "BatonWire"]),
        .testTarget(
            name: "BatonLoggingTests",
            dependencies: ["BatonLogging", "BatonWire", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "BatonWebTests",
            dependencies: [
                "BatonWeb", "BatonWire", "BatonClient",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "BatonClientTests", dependencies: ["BatonClient", "BatonWire", "ZeroMQ"]),
        .testTarget(
            name: "BatonWorkerTests",
            dependencies: ["BatonWorker", "BatonWire", "ZeroMQ", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "BatonIntegrationTests",
            dependencies: [
                "BatonClient", "BatonWorker", "BatonWire", "BatonKeys", "ZeroMQ", "BatonStore",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
