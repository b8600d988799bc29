import ArchiverKit
import ArchiverTestSupport
@testable import Backends
import Foundation
import Glibc

/// A fake Baidu server for the tests, a token file logged in to it, and backends over it.
final class BaiduHarness: Sendable {
    let fake: FakeBaidu
    /// Holds the token file.
    let folder: String
    let tokenFile: String

    /// The fake the conformance suite shares: small slices so objects have many, and a slice cap that still lets
    /// its 64 MiB object through.
    static let conformance: BaiduHarness = {
        do {
            return try BaiduHarness(["--slice-size", String(256 * 1024), "--max-slices", "512"])
        } catch {
            fatalError("cannot start baidu-fake: \(error)")
        }
    }()

    /// Starts a fake with `arguments` and logs in to it.
    init(_ arguments: [String] = []) throws {
        // Retry delays a hundredth of the real ones, before the first backend reads them.
        setenv("ARCHIVER_BAIDU_RETRY_SCALE", "0.01", 0)
        fake = try FakeBaidu.start(arguments)
        folder = FileManager.default.temporaryDirectory.path + "/baidu-harness-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        tokenFile = folder + "/baidu-token.json"
        try login()
    }

    /// Stops the fake and removes the token folder.
    func stop() {
        fake.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Writes a fresh pair from the fake into the token file, as a device login would.
    func login() throws {
        let pair = try fake.issueToken()
        let tokens = TokenStore.Tokens(
            TokenGrant(
                accessToken: pair.access, refreshToken: pair.refresh, expiresIn: 2_592_000, scope: "basic netdisk"),
            now: Int64(Date().timeIntervalSince1970))
        try TokenFiles.writeAtomically(Array(try JSONEncoder().encode(tokens)), to: tokenFile)
    }

    /// The `baidu:` settings pointing at the fake.
    func settings(_ extra: [String: String] = [:]) -> [String: String] {
        var settings = [
            "app_name": "e2bdy", "app_key": "test-app-key", "secret_key": "test-secret-key", "token_file": tokenFile,
            "upload_concurrency": "3", "endpoints.oauth": fake.url, "endpoints.api": fake.url,
            "endpoints.upload": fake.url, "config_file": "/etc/archiver.yaml",
        ]
        settings.merge(extra) { $1 }
        return settings
    }

    func context(_ extra: [String: String] = [:]) -> BackendRegistry.Context {
        BackendRegistry.Context(baseDirectory: "/", settings: ["baidu": settings(extra)])
    }

    /// A backend over `baidu:<subfolder>`, made through the registry as the program makes it.
    func backend(_ subfolder: String = "t-" + UUID().uuidString.lowercased(), _ extra: [String: String] = [:]) throws
        -> BaiduBackend
    {
        Backends.registerAll()
        let made = try BackendRegistry.make(spec: "baidu:\(subfolder)", context: context(extra))
        return made as! BaiduBackend
    }

    /// A backend over a fresh, initialised repository.
    func repository(_ extra: [String: String] = [:]) async throws -> (BaiduBackend, prefix: String) {
        let backend = try backend("t-" + UUID().uuidString.lowercased(), extra)
        let id = UUID().uuidString.lowercased()
        try await backend.initialize(marker: RepositoryMarker(id: id, created: "2025-01-01T00:00:00Z"))
        return (backend, id + "/")
    }

    /// A counter of the fake's stats.
    func stat(_ key: String) throws -> Int { try fake.stats()[key] ?? 0 }

    /// Injects a fault: the next `count` calls of `endpoint` fail with `error`.
    func fault(_ endpoint: String, _ error: Any, count: Int = 1) throws {
        try fake.control("faults", ["endpoint": endpoint, "error": error, "count": count])
    }
}
