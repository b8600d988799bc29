// swift-tools-version:6.2
import PackageDescription

// libFuzzer executables over the parsers of the package above, built only by fuzz/run.sh with
// `-sanitize=fuzzer` in a build folder of their own. `.ci/run` never builds this package; it replays the saved
// inputs through the same entry points (Tests/FuzzReplayTests).
let package = Package(
    name: "archiver-fuzz",
    dependencies: [.package(name: "archiver", path: "..")],
    targets: [
        // The executable's entry point, in C: it hands the command line to libFuzzer's driver.
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "archiver-fuzz",
            dependencies: ["FuzzDriver", .product(name: "FuzzEntries", package: "archiver")],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("InternalImportsByDefault"),
                .treatAllWarnings(as: .error),
            ]
        )
    ]
)
