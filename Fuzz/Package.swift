// swift-tools-version:6.1
import PackageDescription

// libFuzzer entry points for BatonWire's decoders. A package of its own, so the normal
// `swift build` of the root never compiles it: scripts/fuzz builds it into .build-fuzz with
// `-sanitize=fuzzer,address` for every module, so BatonWire is instrumented for coverage too.
//
// Each target is one executable whose `main` is libFuzzer's: the entry file defines
// `LLVMFuzzerTestOneInput` and is compiled with -parse-as-library so Swift emits no main.
let fuzzerEntry: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "BatonFuzz",
    dependencies: [.package(name: "Baton", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "BatonWire", package: "Baton")]),
        .executableTarget(name: "FuzzClientFrames", dependencies: ["FuzzSupport"], swiftSettings: fuzzerEntry),
        .executableTarget(name: "FuzzWorkerFrames", dependencies: ["FuzzSupport"], swiftSettings: fuzzerEntry),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport"], swiftSettings: fuzzerEntry),
        .executableTarget(name: "FuzzWorkflowSpec", dependencies: ["FuzzSupport"], swiftSettings: fuzzerEntry),
    ],
    swiftLanguageModes: [.v6]
)
