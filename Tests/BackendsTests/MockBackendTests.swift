import ArchiverKit
import Backends
import Foundation
import Testing

/// The mock's faults and Baidu-like rules each do what they say.
@Suite("Mock backend")
struct MockBackendTests {
    /// A persisting mock in a fresh folder, initialised.
    private func makeMock(_ query: String = "") async throws -> (MockBackend, Scratch) {
        let scratch = try Scratch()
        let argument = scratch.path + "/repo" + (query.isEmpty ? "" : "?" + query)
        let mock = try MockBackend(argument: argument, context: BackendRegistry.Context(baseDirectory: "/"))
        try await mock.initialize(marker: RepositoryMarker(id: "r", created: "2025-01-01T00:00:00Z"))
        return (mock, scratch)
    }

    @Test("the spec's query string sets every option")
    func parsesQuery() throws {
        let query = "fail=put:3,get:1+&latency_ms=20&corrupt=1&quota=1000000&max_object_size=5000000"
            + "&slice_size=4194304&max_slices=1024&digests_first=1&no_empty=1"
        let mock = try MockBackend(argument: "/tmp/m?" + query, context: BackendRegistry.Context(baseDirectory: "/"))
        let expected = MockBackend.Configuration(
            faults: [MockBackend.Fault(.put, call: 3), MockBackend.Fault(.get, call: 1, andLater: true)],
            latency: .milliseconds(20), corruptObject: 1, quota: 1_000_000, maxObjectSize: 5_000_000,
            sliceSize: 4_194_304, maxSlices: 1024, digestsFirst: true, allowsEmptyObjects: false)
        #expect(mock.configuration == expected)
        #expect(mock.directory == "/tmp/m")
        #expect(mock.spec == "mock:/tmp/m?" + query)
        #expect(mock.persists)
        #expect(try MockBackend.Configuration(query: expected.query) == expected)

        let capabilities = mock.capabilities
        #expect(capabilities.maxObjectSize == 5_000_000)
        #expect(capabilities.sliceSize == 4_194_304)
        #expect(capabilities.maxSlices == 1024)
        #expect(capabilities.needsDigestsBeforeUpload)
        #expect(!capabilities.allowsEmptyObjects)
    }

    @Test("malformed options are refused with the option named", arguments: [
        "colour=blue", "fail=put", "fail=fly:1", "fail=put:0", "latency_ms=soon", "quota=-1", "digests_first=maybe",
    ])
    func refusesBadOptions(_ query: String) {
        let error = #expect(throws: ArchiverError.self) { try MockBackend.Configuration(query: query) }
        #expect(error?.code == .usage)
        let key = String(query.prefix { $0 != "=" })
        #expect(error?.message.contains(key) == true)
    }

    @Test("mock: keeps nothing but counts and accepts everything")
    func dryRun() async throws {
        let mock = MockBackend()
        #expect(!mock.persists)
        #expect(try await mock.open().id == MockBackend.dryRunRepositoryID)
        let name = try ObjectName("r/data/x")
        let info = try await put(mock, name, PatternSource.bytes(seed: 1, count: 10_000))
        #expect(info.size == 10_000)
        #expect(mock.bytesWritten == 10_000)
        #expect(mock.objectsCommitted == 1)
        #expect(try await mock.stat(name) == nil)
        let error = await #expect(throws: ArchiverError.self) { try await get(mock, name) }
        #expect(error?.message.contains("not found") == true)
        #expect(try await mock.list(prefix: "", cursor: nil, limit: 10).objects.isEmpty)

        try await mock.initialize(marker: RepositoryMarker(id: "set-in-process", created: "2025-01-01T00:00:00Z"))
        #expect(try await mock.open().id == "set-in-process")
    }

    @Test("fail=OP:N fails exactly the Nth call", arguments: MockBackend.Operation.allCases)
    func failsNthCall(_ operation: MockBackend.Operation) async throws {
        let (mock, scratch) = try await makeMock()
        defer { scratch.remove() }
        let name = try ObjectName("r/data/seed")
        try await put(mock, name, [1, 2, 3])
        mock.resetCounters()
        mock.configuration.faults = [MockBackend.Fault(operation, call: 2)]

        /// Runs one call of `operation`; the write and commit cases run a whole put.
        func call(_ index: Int) async throws {
            let fresh = try ObjectName("r/data/new-\(index)")
            switch operation {
            case .open: _ = try await mock.open()
            case .initialize:
                try await mock.initialize(marker: RepositoryMarker(id: "x", created: "2025-01-01T00:00:00Z"))
            case .put, .commit, .write: try await put(mock, fresh, [4, 5, 6])
            case .get: _ = try await get(mock, name)
            case .stat: _ = try await mock.stat(name)
            case .list: _ = try await mock.list(prefix: "", cursor: nil, limit: 10)
            case .delete: try await mock.delete(fresh)
            }
        }

        func isInjected(_ error: any Error) -> Bool {
            guard let error = error as? ArchiverError else { return false }
            return error.code == .backend && error.message.hasPrefix("injected fault: \(operation) call 2")
                && error.cause is MockBackend.InjectedFault
        }

        if operation == .initialize {
            // The mock is a repository already: the first init fails for that reason, not by injection.
            await #expect(throws: ArchiverError.self) { try await call(1) }
        } else {
            try await call(1)
        }
        await #expect { try await call(2) } throws: { isInjected($0) }
        if operation != .initialize { try await call(3) }
        #expect(mock.calls(operation) >= 2)
        if operation == .put || operation == .commit || operation == .write {
            // The failed put left nothing behind.
            #expect(try await mock.stat(ObjectName("r/data/new-2")) == nil)
            #expect(try leftovers(in: mock.directory!).isEmpty)
        }
    }

    @Test("fail=OP:N+ fails the Nth call and every later one")
    func failsFromNthCall() async throws {
        let (mock, scratch) = try await makeMock("fail=stat:2+")
        defer { scratch.remove() }
        let name = try ObjectName("r/x")
        _ = try await mock.stat(name)
        for _ in 0..<3 {
            await #expect(throws: ArchiverError.self) { try await mock.stat(name) }
        }
        #expect(mock.calls(.stat) == 4)
        mock.configuration.faults = []
        _ = try await mock.stat(name)
    }

    @Test("latency_ms delays every operation")
    func latency() async throws {
        let (mock, scratch) = try await makeMock("latency_ms=60")
        defer { scratch.remove() }
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { _ = try await mock.stat(ObjectName("r/x")) }
        #expect(elapsed >= .milliseconds(60))
        let writeElapsed = try await clock.measure { try await put(mock, ObjectName("r/y"), [1]) }
        // put + write + commit
        #expect(writeElapsed >= .milliseconds(180))
    }

    @Test("corrupt=N flips one byte in the middle of the Nth object")
    func corrupt() async throws {
        let (mock, scratch) = try await makeMock("corrupt=2")
        defer { scratch.remove() }
        let bytes = PatternSource.bytes(seed: 2, count: 1001)
        let names = try (1...3).map { try ObjectName("r/data/\($0)") }
        for name in names { try await put(mock, name, bytes) }
        #expect(try await get(mock, names[0]) == bytes)
        #expect(try await get(mock, names[2]) == bytes)
        let tampered = try await get(mock, names[1])
        #expect(tampered.count == bytes.count)
        let differing = tampered.indices.filter { tampered[$0] != bytes[$0] }
        #expect(differing == [500])
    }

    @Test("quota refuses the write that exceeds it and commits nothing")
    func quota() async throws {
        let (mock, scratch) = try await makeMock("quota=1000")
        defer { scratch.remove() }
        try await put(mock, ObjectName("r/a"), PatternSource.bytes(seed: 1, count: 600))
        #expect(mock.storedBytes == 600)
        let name = try ObjectName("r/b")
        let error = await #expect(throws: ArchiverError.self) {
            try await put(mock, name, PatternSource.bytes(seed: 2, count: 500), chunk: 100)
        }
        #expect(error?.code == .quota)
        #expect(error?.subject == name.value)
        #expect(try await mock.stat(name) == nil)
        #expect(mock.storedBytes == 600)
        // Deleting frees room.
        try await mock.delete(ObjectName("r/a"))
        #expect(mock.storedBytes == 0)
        try await put(mock, name, PatternSource.bytes(seed: 2, count: 1000))
    }

    @Test("max_object_size and max_slices limit an object's size")
    func sizeLimits() async throws {
        let (mock, scratch) = try await makeMock("max_object_size=1000&slice_size=100&max_slices=20")
        defer { scratch.remove() }
        try await put(mock, ObjectName("r/fits"), PatternSource.bytes(seed: 1, count: 1000))
        let tooBig = try ObjectName("r/too-big")
        let error = await #expect(throws: ArchiverError.self) {
            try await put(mock, tooBig, PatternSource.bytes(seed: 1, count: 1001))
        }
        #expect(error?.message.contains("max_object_size") == true)
        #expect(try await mock.stat(tooBig) == nil)

        mock.configuration.maxObjectSize = nil
        mock.configuration.maxSlices = 5
        let slices = await #expect(throws: ArchiverError.self) {
            try await put(mock, tooBig, PatternSource.bytes(seed: 1, count: 501))
        }
        #expect(slices?.message.contains("5 slices of 100 bytes") == true)
        try await put(mock, tooBig, PatternSource.bytes(seed: 1, count: 500))
    }

    @Test("no_empty refuses empty objects")
    func noEmpty() async throws {
        let (mock, scratch) = try await makeMock("no_empty=1")
        defer { scratch.remove() }
        let name = try ObjectName("r/empty")
        let error = await #expect(throws: ArchiverError.self) { try await put(mock, name, []) }
        #expect(error?.message.contains("stores no empty objects") == true)
        #expect(try await mock.stat(name) == nil)
        #expect(try leftovers(in: mock.directory!).isEmpty)
    }

    @Test("digests_first requires digests and accepts the right ones")
    func digestsFirstAccepts() async throws {
        let (mock, scratch) = try await makeMock("digests_first=1&slice_size=65536")
        defer { scratch.remove() }
        let name = try ObjectName("r/data/hashed")
        let bytes = PatternSource.bytes(seed: 11, count: 300_000)  // head 256 KiB, 5 slices, the last partial
        let missing = await #expect(throws: ArchiverError.self) {
            try await mock.openWriter(for: name, size: Int64(bytes.count), digests: nil)
        }
        #expect(missing?.message.contains("needs the digests") == true)
        try await put(mock, name, bytes)
        #expect(try await get(mock, name) == bytes)
    }

    @Test("the core's hashes-first pass and upload pass are accepted")
    func corePipelineDigestsFirst() async throws {
        let (mock, scratch) = try await makeMock("digests_first=1&slice_size=262144")
        defer { scratch.remove() }
        let name = try ObjectName("r/data/core")
        // Under the pipeline's 1 MiB block: larger objects take seconds per MiB in debug builds.
        let size: Int64 = 1024 * 1024 - 1000
        let makeSource: @Sendable () -> any ByteSource = { PatternSource(seed: 21, count: size) }
        // First pass: the core hashes what it will store; second pass: it regenerates the bytes into the writer.
        let digests = try await coreUploadDigests(of: makeSource, sliceSize: 262_144)
        #expect(digests.sliceMD5s.count == 4)
        #expect(digests == (try StreamHasher.hash(makeSource(), sliceSize: 262_144).uploadDigests))
        let writer = try await mock.openWriter(for: name, size: size, digests: digests)
        let encoded = try await blocking {
            try ObjectPipeline.encode(
                from: makeSource(), to: writer, options: EncodeOptions(recipients: [], compression: .off))
        }
        #expect(encoded.storedSize == size)
        #expect(try await writer.commit().size == size)
        #expect(try await mock.stat(name)?.size == size)
    }

    /// Ways to get the digests wrong, each of which the commit must refuse.
    enum WrongDigest: String, CaseIterable, Sendable {
        case size, md5, headMD5, sliceMD5, sliceCount
    }

    @Test("digests_first refuses bytes that do not match the digests", arguments: WrongDigest.allCases)
    func digestsFirstRefuses(_ wrong: WrongDigest) async throws {
        let (mock, scratch) = try await makeMock("digests_first=1&slice_size=65536")
        defer { scratch.remove() }
        let name = try ObjectName("r/data/hashed")
        let bytes = PatternSource.bytes(seed: 11, count: 300_000)
        var digests = try #require(try await digestsIfNeeded(mock, bytes))
        var sent = bytes
        switch wrong {
        case .size: sent.removeLast()
        case .md5: digests.md5[0] ^= 1
        case .headMD5: digests.headMD5[15] ^= 1
        case .sliceMD5: digests.sliceMD5s[3][7] ^= 1
        case .sliceCount: digests.sliceMD5s.removeLast()
        }
        let writer = try await mock.openWriter(for: name, size: digests.size, digests: digests)
        try sent.withUnsafeBytes { try writer.write($0) }
        let error = await #expect(throws: ArchiverError.self) { try await writer.commit() }
        await writer.abort()
        #expect(error?.message.contains("does not match the digests") == true)
        let expectedDetail: String
        switch wrong {
        case .size: expectedDetail = "299999 bytes received, 300000 announced"
        case .md5: expectedDetail = "the MD5 of the object differs"
        case .headMD5: expectedDetail = "the MD5 of the first 256 KiB differs"
        case .sliceMD5: expectedDetail = "the MD5 of slice 4 differs"
        case .sliceCount: expectedDetail = "5 slices of 65536 bytes received, 4 announced"
        }
        #expect(error?.message.contains(expectedDetail) == true, "\(error?.message ?? "")")
        #expect(try await mock.stat(name) == nil)
        #expect(try leftovers(in: mock.directory!).isEmpty)
    }

    @Test("counters report calls and bytes")
    func counters() async throws {
        let (mock, scratch) = try await makeMock()
        defer { scratch.remove() }
        mock.resetCounters()
        try await put(mock, ObjectName("r/a"), PatternSource.bytes(seed: 1, count: 1000), chunk: 300)
        try await put(mock, ObjectName("r/b"), PatternSource.bytes(seed: 1, count: 24), chunk: 300)
        _ = try await mock.stat(ObjectName("r/a"))
        #expect(mock.calls(.put) == 2)
        #expect(mock.calls(.write) == 5)
        #expect(mock.calls(.commit) == 2)
        #expect(mock.calls(.stat) == 1)
        #expect(mock.calls(.get) == 0)
        #expect(mock.bytesWritten == 1024)
        #expect(mock.objectsCommitted == 2)
    }
}
