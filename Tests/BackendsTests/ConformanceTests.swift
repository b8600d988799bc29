import ArchiverKit
import Foundation
import Testing

/// What every backend must do, checked against each fixture in `BackendFixture.all`.
///
/// Capability-aware: a backend that keeps nothing (`persists == false`) is checked for accepting writes and
/// saying "not found" instead of reading back; empty objects are checked against `allowsEmptyObjects`; digests are
/// sent first when `needsDigestsBeforeUpload`.
@Suite("Backend conformance")
struct ConformanceTests {
    @Test("initialize, then open returns the marker", arguments: BackendFixture.all)
    func initializeThenOpen(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let opened = try await target.backend.open()
        let written = try #require(target.marker)
        #expect(opened.id == written.id)
        #expect(opened.version == written.version)
        #expect(opened.created == written.created)
    }

    @Test("initialize refuses a target that is already a repository", arguments: BackendFixture.all)
    func initializeTwice(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let id = try #require(target.marker?.id)
        let again = RepositoryMarker(id: UUID().uuidString.lowercased(), created: "2025-02-02T00:00:00Z")
        let error = await #expect(throws: ArchiverError.self) { try await target.backend.initialize(marker: again) }
        #expect(error?.message.contains("is already an archiver repository (id \(id))") == true)
        #expect(try await target.backend.open().id == id)
    }

    @Test("open refuses an uninitialised target", arguments: BackendFixture.all)
    func openUninitialised(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture, initialized: false)
        defer { target.remove() }
        guard target.backend.persists else {
            // A dry run needs no target: it opens with the fixed id.
            #expect(try await target.backend.open().id == "00000000-0000-4000-8000-000000000000")
            return
        }
        try FileManager.default.createDirectory(atPath: target.root, withIntermediateDirectories: false)
        let error = await #expect(throws: ArchiverError.self) { try await target.backend.open() }
        #expect(error?.code == .targetUnavailable)
        #expect(error?.message.contains("\(target.root) is not an archiver repository") == true)
        if fixture.localRoot {
            #expect(error?.message.contains("the disk is probably not mounted") == true)
        }
        #expect(error?.message.contains("archiver init") == true)
    }

    @Test("open refuses a missing target", arguments: BackendFixture.all.filter { $0.name != "mock: (dry run)" })
    func openMissingRoot(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture, initialized: false)
        defer { target.remove() }
        let error = await #expect(throws: ArchiverError.self) { try await target.backend.open() }
        #expect(error?.code == .targetUnavailable)
        guard fixture.localRoot else {
            // A remote has no disk to mount, and `init` makes its missing folders.
            #expect(error?.message.contains(target.root) == true)
            return
        }
        #expect(
            error?.message == "\(target.root) does not exist. If it is an external disk, plug it in and mount it.")

        // init creates the root only inside an existing folder.
        let deeper = try fixture.make(target.root + "/not/there")
        let marker = RepositoryMarker(id: UUID().uuidString.lowercased(), created: "2025-01-01T00:00:00Z")
        let initError = await #expect(throws: ArchiverError.self) { try await deeper.initialize(marker: marker) }
        #expect(initError?.code == .targetUnavailable)
    }

    @Test("put then get returns the same bytes", arguments: BackendFixture.all)
    func roundTrip(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let cases: [(String, Int)] = [("a", 1), ("data/ab/cd/object", 1000), ("data/ab/other", 300 * 1024 + 7)]
        for (index, (suffix, size)) in cases.enumerated() {
            let name = try target.name(suffix)
            let bytes = PatternSource.bytes(seed: UInt64(index), count: size)
            let info = try await put(backend, name, bytes, chunk: 4096)
            #expect(info.name == name)
            #expect(info.size == Int64(size))
            if backend.persists {
                #expect(try await get(backend, name) == bytes)
            } else {
                let error = await #expect(throws: ArchiverError.self) { try await get(backend, name) }
                #expect(error?.message.contains("not found") == true)
            }
        }
    }

    @Test("range reads return exactly the range", arguments: BackendFixture.all)
    func rangeReads(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let name = try target.name("ranged")
        let bytes = PatternSource.bytes(seed: 7, count: 200_000)
        try await put(backend, name, bytes)
        guard backend.persists, backend.capabilities.supportsRangeReads else { return }
        let ranges: [Range<Int64>] = [0..<10, 100..<150_000, 199_999..<200_000, 0..<200_000, 5..<5, 200_000..<200_000]
        for range in ranges {
            let expected = Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])
            #expect(try await get(backend, name, range: range) == expected, "range \(range)")
        }
        let error = await #expect(throws: ArchiverError.self) { try await get(backend, name, range: 10..<200_001) }
        #expect(error?.message.contains(name.value) == true)
    }

    @Test("stat describes stored objects and returns nil for missing ones", arguments: BackendFixture.all)
    func stat(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let name = try target.name("data/x/statted")
        try await put(backend, name, PatternSource.bytes(seed: 3, count: 12345))
        let info = try await backend.stat(name)
        if backend.persists {
            #expect(info?.name == name)
            #expect(info?.size == 12345)
        } else {
            #expect(info == nil)
        }
        #expect(try await backend.stat(target.name("data/x/missing")) == nil)
        #expect(try await backend.stat(target.name("data/nowhere/missing")) == nil)
        // A folder is not an object.
        #expect(try await backend.stat(target.name("data/x")) == nil)
    }

    @Test("list pages through 2,503 objects in byte order, filtered by prefix", arguments: BackendFixture.all)
    func listPaging(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        var inside: [String] = []
        for index in 0..<2500 {
            let folder = String(index % 40, radix: 16)
            inside.append(target.prefix + "data/\(folder.count == 1 ? "0" + folder : folder)/obj-\(index)")
        }
        // Where `/` sorts among neighbours: `a-b` < `a/x` < `a0` in bytes, unlike a naive walk of folders.
        inside += ["a-b", "a/x", "a0"].map { target.prefix + "data/" + $0 }
        let outside = ["index/x", "dat-x", "datum"].map { target.prefix + $0 } + ["elsewhere/x"]
        let payload: [UInt8] = [1, 2, 3]
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = 0
            for name in inside + outside {
                if pending == 16 {
                    try await group.next()
                    pending -= 1
                }
                group.addTask { try await put(backend, try ObjectName(name), payload) }
                pending += 1
            }
            try await group.waitForAll()
        }

        let prefix = target.prefix + "data/"
        let (names, pages) = try await listAll(backend, prefix: prefix, limit: 1000)
        guard backend.persists else {
            #expect(names.isEmpty)
            return
        }
        #expect(pages == 3)
        #expect(names == byteSorted(inside))
        #expect(Set(names).count == names.count)

        let first = try await backend.list(prefix: prefix, cursor: nil, limit: 1000)
        #expect(first.objects.count == 1000)
        #expect(first.nextCursor == first.objects.last?.name.value)
        #expect(first.objects.allSatisfy { $0.size == 3 })

        // A prefix that ends inside a name component.
        let partial = try await listAll(backend, prefix: prefix + "0", limit: 333)
        #expect(partial.names == byteSorted(inside.filter { $0.hasPrefix(prefix + "0") }))
        // Resuming from any cursor gives exactly the names after it.
        let cursor = names[1234]
        let rest = try await listAll(backend, prefix: prefix, limit: 700)
        #expect(rest.names == names)
        let after = try await backend.list(prefix: prefix, cursor: cursor, limit: 5)
        #expect(after.objects.map(\.name.value) == Array(names[1235..<1240]))
        // Everything, including the objects outside `data/`, and nothing else (no marker, no temporary files).
        let all = try await listAll(backend, prefix: "", limit: 1000)
        #expect(all.names == byteSorted(inside + outside))
        #expect(try await backend.list(prefix: target.prefix + "nothing/", cursor: nil, limit: 10).objects.isEmpty)
    }

    @Test("delete removes an object; deleting a missing one succeeds", arguments: BackendFixture.all)
    func delete(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let name = try target.name("data/d/doomed")
        let keep = try target.name("data/d/kept")
        try await put(backend, name, [9, 9, 9])
        try await put(backend, keep, [8])
        try await backend.delete(name)
        #expect(try await backend.stat(name) == nil)
        try await backend.delete(name)
        try await backend.delete(target.name("data/never/was"))
        if backend.persists {
            #expect(try await listAll(backend, prefix: target.prefix).names == [keep.value])
            let error = await #expect(throws: ArchiverError.self) { try await get(backend, name) }
            #expect(error?.code == .backend)
        }
    }

    @Test("a 64 MiB object streams in and out in 1 MiB pieces", arguments: BackendFixture.all)
    func largeObject(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let name = try target.name("data/big/object")
        let size: Int64 = 64 << 20
        let (info, sent) = try await putStream(backend, name, size: size) { PatternSource(seed: 64, count: size) }
        #expect(info.size == size)
        guard backend.persists else { return }
        #expect(try await backend.stat(name)?.size == size)
        let reader = try await backend.openReader(for: name, range: nil)
        let received = try await sha256(of: reader)
        await reader.close()
        #expect(received == sent)
        #expect(sent == (try await sha256(of: PatternSource(seed: 64, count: size))))
    }

    @Test("empty objects are stored when allowed and refused clearly otherwise", arguments: BackendFixture.all)
    func emptyObject(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let name = try target.name("data/empty")
        if backend.capabilities.allowsEmptyObjects {
            let info = try await put(backend, name, [])
            #expect(info.size == 0)
            if backend.persists {
                #expect(try await get(backend, name) == [])
                #expect(try await backend.stat(name)?.size == 0)
            }
        } else {
            let error = await #expect(throws: ArchiverError.self) { try await put(backend, name, []) }
            #expect(error?.message.contains("empty") == true)
            #expect(error?.subject == name.value)
            #expect(try await backend.stat(name) == nil)
        }
    }

    @Test("16 concurrent puts all land", arguments: BackendFixture.all)
    func concurrentPuts(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let names = try (0..<16).map { try target.name("data/\($0 % 3)/concurrent-\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, name) in names.enumerated() {
                group.addTask {
                    try await put(backend, name, PatternSource.bytes(seed: UInt64(index), count: 50_000 + index))
                }
            }
            try await group.waitForAll()
        }
        guard backend.persists else { return }
        for (index, name) in names.enumerated() {
            #expect(try await get(backend, name) == PatternSource.bytes(seed: UInt64(index), count: 50_000 + index))
        }
        #expect(try await listAll(backend, prefix: target.prefix).names == byteSorted(names.map(\.value)))
    }

    @Test("an existing name is never overwritten", arguments: BackendFixture.all)
    func noOverwrite(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        guard backend.persists else { return }  // nothing exists in a dry run, so nothing can be refused
        let name = try target.name("data/once")
        let original = PatternSource.bytes(seed: 1, count: 1000)
        try await put(backend, name, original)
        let error = await #expect(throws: ArchiverError.self) {
            try await put(backend, name, PatternSource.bytes(seed: 2, count: 10))
        }
        #expect(error?.code == .nameTaken)
        #expect(error?.message.contains("already exists") == true)
        #expect(error?.subject == name.value)
        #expect(try await get(backend, name) == original)

        // Two writers racing for one new name: the second commit is refused, the first object stays whole.
        let raced = try target.name("data/raced")
        let first = PatternSource.bytes(seed: 3, count: 5000)
        let second = PatternSource.bytes(seed: 4, count: 7000)
        let writerA = try await backend.openWriter(
            for: raced, size: 5000, digests: try await digestsIfNeeded(backend, first))
        let writerB = try await backend.openWriter(
            for: raced, size: 7000, digests: try await digestsIfNeeded(backend, second))
        try first.withUnsafeBytes { try writerA.write($0) }
        try second.withUnsafeBytes { try writerB.write($0) }
        _ = try await writerA.commit()
        let raceError = await #expect(throws: ArchiverError.self) { try await writerB.commit() }
        await writerB.abort()
        #expect(raceError?.message.contains("already exists") == true)
        #expect(try await get(backend, raced) == first)
        #expect(try await listAll(backend, prefix: target.prefix).names == [name.value, raced.value])
    }

    @Test("abort leaves no trace", arguments: BackendFixture.all)
    func abortLeavesNoTrace(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        try await put(backend, target.name("data/k/kept"), [1])
        let before = try await listAll(backend, prefix: "")
        let name = try target.name("data/k/aborted")
        let bytes = PatternSource.bytes(seed: 5, count: 100_000)
        let writer = try await backend.openWriter(
            for: name, size: Int64(bytes.count), digests: try await digestsIfNeeded(backend, bytes))
        try bytes.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<50_000])) }
        await writer.abort()
        #expect(try await backend.stat(name) == nil)
        #expect(try await listAll(backend, prefix: "").names == before.names)
        if backend.persists {
            #expect(try leftovers(in: target.root).isEmpty)
            // The name is free again.
            try await put(backend, name, bytes)
            #expect(try await get(backend, name) == bytes)
        }
    }

    @Test("errors name the object and keep their cause", arguments: BackendFixture.all)
    func errorsNameTheObject(_ fixture: BackendFixture) async throws {
        let target = try await Target.make(fixture)
        defer { target.remove() }
        let backend = target.backend
        let missing = try target.name("data/m/missing")
        let error = await #expect(throws: ArchiverError.self) { try await get(backend, missing) }
        #expect(error?.code == .backend)
        #expect(error?.subject == missing.value)
        #expect(error?.message.contains(missing.value) == true)
        #expect(error?.cause != nil)
        #expect(error?.description.hasPrefix(missing.value) == true)
        if backend.persists {
            if fixture.localRoot {
                #expect(error?.message.contains("missing from \(target.root)") == true)
            } else {
                // A remote's root is the scratch path below a folder of its own (`/apps/e2bdy` for Baidu).
                #expect(error?.message.contains("missing from ") == true)
                #expect(error?.message.contains(target.root) == true)
            }
            let name = try target.name("data/m/present")
            try await put(backend, name, [1, 2])
            let overwrite = await #expect(throws: ArchiverError.self) { try await put(backend, name, [3]) }
            #expect(overwrite?.cause != nil)
            #expect(overwrite?.description.contains(name.value) == true)
        }
    }
}

/// Temporary or probe files anywhere under a folder.
func leftovers(in root: String) throws -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    return walker.compactMap { $0 as? String }.filter {
        let file = ($0 as NSString).lastPathComponent
        return file.hasPrefix(".tmp-") || file.contains("Probe") || file.hasSuffix(".partial")
    }
}
