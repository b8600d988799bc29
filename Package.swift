// swift-tools-version:6.2
import PackageDescription

/// Settings every target of ours shares: Swift 6 mode, the upcoming features that make imports and
/// existentials explicit, and warnings treated as errors (dependencies keep their own settings).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "archiver",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "archiver", targets: ["archiver"]),
        .library(name: "ArchiverKit", targets: ["ArchiverKit"]),
        // For the libFuzzer package in fuzz/, which depends on this one by path.
        .library(name: "FuzzEntries", targets: ["FuzzEntries"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Only for the fake Baidu server (`baidu-fake`), never linked into `archiver`.
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // The system zlib (zlib1g-dev), wrapped by Codecs.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The system libzstd (libzstd-dev), wrapped by Codecs for the zstd payload.
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // Small C wrappers Swift cannot reach directly: renameat2, mallopt, and the system OpenSSL's
        // ChaCha20-Poly1305 sealing into a caller's buffer (libssl-dev), the age payload's hot path.
        .target(name: "CShims", path: "Sources/CShims", linkerSettings: [.linkedLibrary("crypto")]),
        // Streaming gzip framing over zlib and zstd frames over libzstd: one independent member or frame per
        // block, multi-member and multi-frame decoding, size caps.
        .target(name: "Codecs", dependencies: ["CZlib", "CZstd"], swiftSettings: strict),
        // The age v1 file format (C2SP), written by hand: header, stanzas, X25519 and scrypt, STREAM.
        .target(
            name: "Age",
            dependencies: [
                "CShims",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The backend-agnostic core: pipeline, catalog, backup engine, backend protocol and registry.
        .target(
            name: "ArchiverKit",
            dependencies: [
                "Age", "Codecs",
                .product(name: "Crypto", package: "swift-crypto"),
                // AES-CBC for decrypting the original tool's Fernet and AES Crypt files (Legacy/).
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // One folder per remote; each registers itself with the core's registry.
        .target(
            name: "Backends",
            dependencies: [
                "ArchiverKit", "CShims",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // A faithful local fake of Baidu Netdisk's API for tests, benchmarks and demos (section 9 of the API notes).
        .executableTarget(
            name: "baidu-fake",
            dependencies: [
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The thin command-line program.
        .executableTarget(
            name: "archiver",
            dependencies: [
                "ArchiverKit", "Backends", "CShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The parsers' fuzz entry points: called by the libFuzzer executables in fuzz/ and by FuzzReplayTests,
        // which replays the saved corpus and every crash input in ordinary test runs.
        .target(name: "FuzzEntries", dependencies: ["Age", "Codecs", "ArchiverKit", "Backends"], swiftSettings: strict),
        // Helpers shared by the test targets: temporary trees, the CLI runner, test-data lookup.
        .target(
            name: "ArchiverTestSupport",
            dependencies: ["Codecs"],
            path: "Tests/Support",
            swiftSettings: strict
        ),
        .testTarget(
            name: "AgeTests",
            dependencies: ["Age", "Codecs", "ArchiverTestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs", "ArchiverTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ArchiverKitTests",
            dependencies: [
                "ArchiverKit", "Age", "Codecs", "ArchiverTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BackendsTests",
            dependencies: [
                "Backends", "ArchiverKit", "ArchiverTestSupport", .product(name: "Crypto", package: "swift-crypto"),
                // InFlightTests drive BackupEngine directly, which takes a Logger.
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["ArchiverKit", "Age", "ArchiverTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzEntries"], swiftSettings: strict),
    ]
)
