import ArchiverKit
import ArchiverTestSupport
@testable import Backends
import Foundation
import Synchronization
import Testing

/// The Baidu backend over HTTP against the fake server: slices, rapid upload, resume, source changes, expiry,
/// tokens, throttling, quota, login and tiers. Each test has a fake of its own, so faults and counters are its own.
@Suite("Baidu backend over the fake")
struct BaiduBackendTests {
    static let slice = 64 * 1024

    /// A fake with 64 KiB slices and a repository on it.
    func small(_ arguments: [String] = [], _ extra: [String: String] = [:]) async throws
        -> (BaiduHarness, BaiduBackend, String)
    {
        let harness = try BaiduHarness(["--slice-size", String(Self.slice)] + arguments)
        let (backend, prefix) = try await harness.repository(["slice_size": String(Self.slice)].merging(extra) { $1 })
        try harness.fake.control("reset-stats", [:])
        return (harness, backend, prefix)
    }

    /// Writes `bytes` from a thread of its own, as the pipeline does.
    func write(_ writer: any ObjectWriter, _ bytes: ArraySlice<UInt8>, chunk: Int = 10_000) async throws {
        let copy = Array(bytes)
        try await blocking {
            try copy.withUnsafeBytes { all in
                var offset = 0
                while offset < all.count {
                    let end = min(offset + chunk, all.count)
                    try writer.write(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                    offset = end
                }
            }
        }
    }

    func digests(_ bytes: [UInt8]) -> UploadDigests { UploadDigests(of: bytes, sliceSize: Self.slice) }

    @Test("a multi-slice object goes up in slices and comes back whole and in ranges across chunks")
    func slicesAndRanges() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let size = 9 * (1 << 20) + 123
        let bytes = PatternSource.bytes(seed: 11, count: size)
        let name = try ObjectName(prefix + "data/aa/big")
        let info = try await put(backend, name, bytes, chunk: 100_000)
        #expect(info.name == name && info.size == Int64(size))
        let slices = (size + Self.slice - 1) / Self.slice
        #expect(try harness.stat("superfile2") == slices)
        #expect(try harness.stat("bytes_received") == size)
        #expect(try await get(backend, name) == bytes)
        let chunk = Int64(BaiduObjectReader.chunkSize)
        let end = Int64(size)
        for range: Range<Int64> in [0..<1, chunk - 10..<chunk + 10, 100..<2 * chunk + 5, end - 7..<end] {
            let expected = Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])
            #expect(try await get(backend, name, range: range) == expected)
        }
    }

    @Test("content the account already holds is a rapid-upload hit: no slice is sent")
    func rapidUpload() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let bytes = PatternSource.bytes(seed: 5, count: 300_000)
        let file = harness.folder + "/source.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        try harness.fake.control("put", ["path": backend.paths.root + "/elsewhere.bin", "source": file])
        try harness.fake.control("reset-stats", [:])
        let name = try ObjectName(prefix + "data/bb/rapid")
        let writer = try await backend.openWriter(for: name, size: 300_000, digests: digests(bytes))
        #expect(!writer.needsBytes)
        let info = try await writer.commit()
        #expect(info.name == name && info.size == 300_000)
        #expect(try harness.stat("superfile2") == 0 && harness.stat("rapid_hits") == 1)
        #expect(try await get(backend, name) == bytes)
    }

    @Test("a resumed upload sends only the slices Baidu is missing")
    func resume() async throws {
        let (harness, backend, prefix) = try await small([], ["upload_concurrency": "2"])
        defer { harness.stop() }
        let bytes = PatternSource.bytes(seed: 8, count: 20 * Self.slice - 100)
        let name = try ObjectName(prefix + "data/cc/resumed")
        let saved = Mutex<[UploadCheckpoint]>([])
        let first = try await backend.openWriter(
            for: name, size: Int64(bytes.count), digests: digests(bytes), resume: nil,
            checkpoint: { checkpoint in saved.withLock { $0.append(checkpoint) } })
        #expect(saved.withLock { $0.count } == 1)
        try await write(first, bytes[0..<8 * Self.slice])
        // Wait for the slices in flight, as a run killed a moment later would have.
        var done: [Int] = []
        for _ in 0..<500 where done.count < 7 {
            try await Task.sleep(for: .milliseconds(10))
            done = saved.withLock { $0.last.flatMap(UploadSessionState.init)?.done ?? [] }
        }
        await first.abort()
        let checkpoint = try #require(saved.withLock { $0.last })
        let state = try #require(UploadSessionState(checkpoint))
        #expect(state.path == backend.paths.path(name) && state.sliceSize == Self.slice && !state.uploadid.isEmpty)
        #expect(state.host == harness.fake.url)
        let sent = try harness.stat("superfile2")
        #expect(sent >= 7)

        let second = try await backend.openWriter(
            for: name, size: Int64(bytes.count), digests: digests(bytes), resume: checkpoint, checkpoint: { _ in })
        try await write(second, bytes[...])
        let info = try await second.commit()
        #expect(info.size == Int64(bytes.count))
        #expect(try harness.stat("superfile2") - sent == 20 - sent)
        #expect(try await get(backend, name) == bytes)
    }

    @Test("after a kill between create and the catalog's commit, the rerun adopts the object and sends nothing")
    func adoptAfterCreate() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let bytes = PatternSource.bytes(seed: 9, count: 5 * Self.slice + 1)
        let name = try ObjectName(prefix + "data/dd/made")
        let saved = Mutex<UploadCheckpoint?>(nil)
        let writer = try await backend.openWriter(
            for: name, size: Int64(bytes.count), digests: digests(bytes), resume: nil,
            checkpoint: { checkpoint in saved.withLock { $0 = checkpoint } })
        try await write(writer, bytes[...])
        _ = try await writer.commit()
        try harness.fake.control("reset-stats", [:])
        // The catalog never heard of it; the rerun resumes from the last checkpoint, or starts afresh.
        for resume in [saved.withLock { $0 }, nil] {
            let again = try await backend.openWriter(
                for: name, size: Int64(bytes.count), digests: digests(bytes), resume: resume, checkpoint: { _ in })
            #expect(!again.needsBytes)
            #expect(try await again.commit().size == Int64(bytes.count))
        }
        #expect(try harness.stat("superfile2") == 0 && harness.stat("create") == 0)
        // Different bytes under the name are refused, never adopted.
        let other = PatternSource.bytes(seed: 10, count: bytes.count)
        let error = await #expect(throws: ArchiverError.self) { try await put(backend, name, other) }
        #expect(error?.message.contains("already exists") == true)
    }

    @Test("a slice that differs from the hashing pass stops the upload and create is never called")
    func sourceChanged() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let hashed = PatternSource.bytes(seed: 3, count: 6 * Self.slice)
        var changed = hashed
        changed[Self.slice + 17] ^= 0xFF
        let name = try ObjectName(prefix + "data/ee/changed")
        let writer = try await backend.openWriter(for: name, size: Int64(hashed.count), digests: digests(hashed))
        let creates = try harness.stat("create")
        let error = await #expect(throws: ArchiverError.self) { try await write(writer, changed[...]) }
        #expect(error?.code == .sourceChanged)
        #expect(error?.message.contains("the file changed between the hashing pass and the upload") == true)
        await writer.abort()
        #expect(try harness.stat("create") == creates)
        #expect(try harness.stat("superfile2") <= 1)
        #expect(try await backend.stat(name) == nil)
    }

    @Test("an expired upload session is reported as uploadExpired, also when resumed")
    func expiredSession() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let bytes = PatternSource.bytes(seed: 4, count: 5 * Self.slice)
        let name = try ObjectName(prefix + "data/ff/expired")
        let saved = Mutex<UploadCheckpoint?>(nil)
        let writer = try await backend.openWriter(
            for: name, size: Int64(bytes.count), digests: digests(bytes), resume: nil,
            checkpoint: { checkpoint in saved.withLock { $0 = checkpoint } })
        try harness.fake.control("expire-sessions", [:])
        let error = await #expect(throws: ArchiverError.self) {
            try await write(writer, bytes[...])
            _ = try await writer.commit()
        }
        #expect(error?.code == .uploadExpired)
        await writer.abort()
        let resumed = await #expect(throws: ArchiverError.self) {
            try await backend.openWriter(
                for: name, size: Int64(bytes.count), digests: digests(bytes), resume: saved.withLock { $0 },
                checkpoint: { _ in })
        }
        #expect(resumed?.code == .uploadExpired)
    }

    @Test("an expired access token is refreshed once and the new pair is on disk")
    func tokenRefresh() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let before = try Data(contentsOf: URL(fileURLWithPath: harness.tokenFile))
        try harness.fake.control("expire-access-tokens", [:])
        #expect(try await backend.stat(ObjectName(prefix + "data/none")) == nil)
        #expect(try await backend.stat(ObjectName(prefix + "data/none")) == nil)
        #expect(try harness.stat("refresh") == 1)
        let after = try JSONDecoder().decode(
            TokenStore.Tokens.self, from: Data(contentsOf: URL(fileURLWithPath: harness.tokenFile)))
        let old = try JSONDecoder().decode(TokenStore.Tokens.self, from: before)
        #expect(after.refreshToken != old.refreshToken && after.accessToken != old.accessToken)
        let mode = try FileManager.default.attributesOfItem(atPath: harness.tokenFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a refresh token used elsewhere is refused: login needed, the file, the command, and status")
    func loginNeeded() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let tokens = try JSONDecoder().decode(
            TokenStore.Tokens.self, from: Data(contentsOf: URL(fileURLWithPath: harness.tokenFile)))
        // Another tool refreshes with the same refresh token first.
        let used = try harness.fake.request(
            "GET",
            "/oauth/2.0/token?grant_type=refresh_token&refresh_token=\(tokens.refreshToken)"
                + "&client_id=test-app-key&client_secret=test-secret-key")
        #expect(used.status == 200)
        try harness.fake.control("expire-access-tokens", [:])
        let error = await #expect(throws: ArchiverError.self) { try await backend.stat(ObjectName(prefix + "x")) }
        #expect(error?.code == .loginNeeded)
        #expect(error?.message.contains("Baidu refused the saved login (expired_token") == true)
        #expect(error?.message.hasSuffix("Log in again: archiver auth baidu --config /etc/archiver.yaml") == true)
        #expect(FileManager.default.fileExists(atPath: harness.tokenFile + ".login-needed"))
        let refreshes = try harness.stat("refresh")
        let again = await #expect(throws: ArchiverError.self) { try await backend.stat(ObjectName(prefix + "x")) }
        #expect(again?.code == .loginNeeded)
        #expect(try harness.stat("refresh") == refreshes)
        #expect(await backend.status().loginNeeded?.contains("archiver auth baidu") == true)
    }

    @Test("a storm of 31034 on every endpoint is ridden out")
    func throttleStorm() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        for endpoint in ["precreate", "superfile2", "create", "list", "filemetas"] {
            try harness.fault(endpoint, 31034, count: 5)
        }
        let bytes = PatternSource.bytes(seed: 6, count: 3 * Self.slice + 5)
        let name = try ObjectName(prefix + "data/gg/stormy")
        try await put(backend, name, bytes)
        #expect(try await get(backend, name) == bytes)
    }

    @Test("a full disk stops the run with .quota, at open and at upload")
    func quota() async throws {
        let (harness, backend, prefix) = try await small(["--quota", "1000000"])
        defer { harness.stop() }
        let bytes = PatternSource.bytes(seed: 2, count: 1_500_000)
        let error = await #expect(throws: ArchiverError.self) {
            try await put(backend, ObjectName(prefix + "data/hh/huge"), bytes)
        }
        #expect(error?.code == .quota)
        try await put(backend, ObjectName(prefix + "data/hh/fits"), PatternSource.bytes(seed: 1, count: 999_000))
        try harness.fake.control("config", ["quota_total": 1000])
        let full = await #expect(throws: ArchiverError.self) { try await backend.open() }
        #expect(full?.code == .quota)
    }

    @Test("device login against the fake writes the token file; an imported refresh token is checked once")
    func login() async throws {
        let harness = try BaiduHarness(["--auto-approve", "--device-interval", "1"])
        defer { harness.stop() }
        try FileManager.default.removeItem(atPath: harness.tokenFile)
        let lines = Mutex<[String]>([])
        try await BaiduLogin.deviceLogin(context: harness.context()) { line in lines.withLock { $0.append(line) } }
        #expect(lines.withLock { $0.first?.contains("enter the code") } == true)
        #expect(FileManager.default.fileExists(atPath: harness.tokenFile))
        let backend = try harness.backend()
        try await backend.initialize(marker: RepositoryMarker(id: "r", created: "2025-01-01T00:00:00Z"))
        #expect(try await backend.open().id == "r")

        let pair = try harness.fake.issueToken()
        try await BaiduLogin.importRefreshToken(pair.refresh, context: harness.context())
        let saved = try JSONDecoder().decode(
            TokenStore.Tokens.self, from: Data(contentsOf: URL(fileURLWithPath: harness.tokenFile)))
        #expect(saved.refreshToken != pair.refresh)
        let reused = await #expect(throws: ArchiverError.self) {
            try await BaiduLogin.importRefreshToken(pair.refresh, context: harness.context())
        }
        #expect(reused?.code == .loginNeeded)
        var missing = harness.settings()
        missing["app_key"] = nil
        let usage = await #expect(throws: ArchiverError.self) {
            try await BaiduLogin.deviceLogin(
                context: BackendRegistry.Context(baseDirectory: "/", settings: ["baidu": missing]), say: { _ in })
        }
        #expect(usage?.code == .usage && usage?.message.contains("baidu.app_key") == true)
    }

    @Test("the member tier sets the capabilities once the account is read")
    func tier() async throws {
        let harness = try BaiduHarness(["--vip-type", "2"])
        defer { harness.stop() }
        let backend = try harness.backend()
        #expect(backend.capabilities.sliceSize == 4 << 20)
        try await backend.initialize(marker: RepositoryMarker(id: "r", created: "2025-01-01T00:00:00Z"))
        #expect(backend.capabilities.sliceSize == 32 << 20)
        #expect(backend.capabilities.maxObjectSize == 20_000_000_000)
        #expect(await backend.status().notes.first?.contains("SVIP") == true)
    }

    @Test("a download cut short or with an expired link is fetched again")
    func downloadFaults() async throws {
        let (harness, backend, prefix) = try await small()
        defer { harness.stop() }
        let bytes = PatternSource.bytes(seed: 12, count: 400_000)
        let name = try ObjectName(prefix + "data/ii/read")
        try await put(backend, name, bytes)
        try harness.fault("download", "reset")
        #expect(try await get(backend, name) == bytes)
        try harness.fault("download", 31360)
        #expect(try await get(backend, name, range: 1000..<300_000) == Array(bytes[1000..<300_000]))
    }
}
