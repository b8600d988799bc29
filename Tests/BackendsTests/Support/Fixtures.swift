import ArchiverKit
import Backends
import Foundation
import Glibc
import Testing

/// One backend the conformance suite runs against. Every backend must pass the suite; a new backend adds a fixture
/// (the Baidu backend: one that starts a fake server).
struct BackendFixture: Sendable, CustomTestStringConvertible {
    /// The name shown in test results.
    let name: String
    /// Makes the backend over a target at `root`, a path inside a fresh scratch folder that does not exist yet.
    let make: @Sendable (_ root: String) throws -> any RemoteBackend
    /// Whether `root` is a folder on this machine (false for a remote, whose root only mirrors the path's text).
    var localRoot = true

    var testDescription: String { name }

    /// A fixture made from a spec, through the registry as the program does it.
    static func spec(_ name: String, _ spec: @escaping @Sendable (_ root: String) -> String) -> BackendFixture {
        BackendFixture(name: name) { root in
            Backends.registerAll()
            return try BackendRegistry.make(spec: spec(root), context: BackendRegistry.Context(baseDirectory: "/"))
        }
    }

    /// Every fixture of the suite.
    static let all: [BackendFixture] = [
        .spec("local") { "local:\($0)" },
        .spec("mock:DIR") { "mock:\($0)" },
        // Baidu's rules on a persisting mock: digests first, 1 MiB slices, a slice limit, no empty objects.
        .spec("mock:DIR like Baidu") { "mock:\($0)?digests_first=1&slice_size=1048576&max_slices=4096&no_empty=1" },
        .spec("mock: (dry run)") { _ in "mock:" },
        .baidu,
    ]

    /// Baidu Netdisk over the fake server: digests first, 256 KiB slices, no empty objects. The repository root is
    /// `/apps/e2bdy` followed by the scratch path, so messages that name the root name `root` too.
    static let baidu = BackendFixture(
        name: "baidu (fake)",
        make: { root in
            let harness = BaiduHarness.conformance
            Backends.registerAll()
            return try BackendRegistry.make(
                spec: "baidu:" + root.split(separator: "/").joined(separator: "/"),
                context: harness.context(["slice_size": String(256 * 1024)]))
        }, localRoot: false)
}

/// A scratch folder for one test; the test removes it (`defer { scratch.remove() }`), because a `deinit` could run
/// as soon as the scratch object is last used, while a backend still works in the folder.
///
/// Scratch folders live on tmpfs (`/dev/shm`) when there is one: the suite writes thousands of objects, each
/// flushed twice, and a shared disk makes that minutes instead of seconds. `ARCHIVER_TEST_SCRATCH` overrides.
final class Scratch: Sendable {
    /// The folder.
    let path: String

    /// Creates an empty folder.
    init() throws {
        let environment = ProcessInfo.processInfo.environment["ARCHIVER_TEST_SCRATCH"]
        let base: String
        if let environment, !environment.isEmpty {
            base = environment
        } else if access("/dev/shm", W_OK) == 0 {
            base = "/dev/shm"
        } else {
            base = FileManager.default.temporaryDirectory.path
        }
        path = "\(base)/archiver-backends-\(UUID().uuidString.lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Creates an empty folder under the system's temporary folder (a real disk, not tmpfs).
    init(onDisk: Void) throws {
        path = FileManager.default.temporaryDirectory.path + "/archiver-backends-\(UUID().uuidString.lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Removes the folder and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A backend over a fresh target, initialised unless asked not to be.
struct Target: Sendable {
    let scratch: Scratch
    /// The target's root (for local and mock:DIR).
    let root: String
    let backend: any RemoteBackend
    /// The marker written by `initialize`, or nil.
    let marker: RepositoryMarker?
    /// The prefix every test object lives under: the repository id.
    let prefix: String

    /// Makes a target.
    /// - Parameters:
    ///   - fixture: which backend.
    ///   - initialized: whether to run `initialize(marker:)`.
    static func make(_ fixture: BackendFixture, initialized: Bool = true) async throws -> Target {
        let scratch = try Scratch()
        let root = scratch.path + "/repo"
        let backend = try fixture.make(root)
        var marker: RepositoryMarker?
        if initialized {
            let written = RepositoryMarker(id: UUID().uuidString.lowercased(), created: "2025-01-01T00:00:00Z")
            try await backend.initialize(marker: written)
            marker = written
        }
        return Target(
            scratch: scratch, root: root, backend: backend, marker: marker, prefix: (marker?.id ?? "repo") + "/")
    }

    /// Removes the scratch folder.
    func remove() { scratch.remove() }

    /// An object name under the repository's prefix.
    func name(_ suffix: String) throws -> ObjectName {
        try ObjectName(prefix + suffix)
    }
}
