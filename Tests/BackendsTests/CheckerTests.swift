import ArchiverKit
import Backends
import Foundation
import Testing

/// The check's merge of the catalog with a listing, over more objects than one listing page (1000), one catalog
/// page (500) and one lookup batch (500) hold, with problems at the edges of both sides.
@Suite struct CheckerTests {
    static let repository = "11111111-2222-4333-8444-555555555555"

    /// A mock folder with `count` recorded objects `<id>/data/<4 digits>.age` of 1 to 7 bytes.
    struct Recorded {
        let scratch: Scratch
        let backend: MockBackend
        let catalog: Catalog
        let names: [String]

        init(count: Int) async throws {
            scratch = try Scratch()
            try FileManager.default.createDirectory(atPath: scratch.path + "/store", withIntermediateDirectories: true)
            backend = MockBackend(directory: scratch.path + "/store")
            try await backend.initialize(marker: RepositoryMarker(id: CheckerTests.repository, created: "2026-11-27"))
            catalog = try Catalog(path: scratch.path + "/catalog.sqlite")
            let id = CheckerTests.repository
            try catalog.registerRepository(id: id, spec: backend.spec)
            let lock = try catalog.acquireRunLock(command: "test")
            defer { lock.release() }
            let run = try catalog.beginRun(repositoryID: id, dryRun: false)
            var names: [String] = []
            for index in 0..<count {
                let name = String(format: "\(id)/data/%04d.age", index * 2 + 10)
                let size = Int64(index % 7 + 1)
                try await CheckerTests.put(backend, name, size: size)
                let digest = (0..<32).map { UInt8(truncatingIfNeeded: index >> ($0 % 4 * 8)) }
                try catalog.recordContent(
                    NewContent(
                        repositoryID: id, runID: run, plaintextSHA256: digest, plaintextSize: size, encrypted: false,
                        recipients: [], compression: "none", formatID: "test"),
                    objects: [
                        NewObject(
                            segment: 0, name: name, storedSize: size, storedSHA256: digest, plaintextOffset: 0,
                            plaintextSize: size)
                    ])
                names.append(name)
            }
            try catalog.finishRun(run, status: .completed, counts: RunCounts())
            self.names = names
        }

        var checker: Checker { Checker(catalog: catalog, backend: backend, repositoryID: CheckerTests.repository) }
    }

    static func put(_ backend: MockBackend, _ name: String, size: Int64) async throws {
        let writer = try await backend.openWriter(for: try ObjectName(name), size: size, digests: nil)
        try [UInt8](repeating: 0x61, count: Int(size)).withUnsafeBytes { try writer.write($0) }
        _ = try await writer.commit()
    }

    @Test func theMergeFindsEveryProblemAcrossPages() async throws {
        let repository = try await Recorded(count: 1200)
        defer { repository.scratch.remove() }
        let backend = repository.backend
        let id = Self.repository
        // Missing: the first, the last and every 97th; one of another size.
        let missing = Set([0, repository.names.count - 1] + Array(stride(from: 97, to: repository.names.count, by: 97)))
        for index in missing { try await backend.delete(try ObjectName(repository.names[index])) }
        try await backend.delete(try ObjectName(repository.names[500]))
        try await Self.put(backend, repository.names[500], size: 99)
        // Unreferenced: before the first name, between two (on every side of the page boundaries), after the last,
        // and in the mirror area. Not objects: a catalog copy, and another repository's object.
        let strays = ["\(id)/data/0000.age", "\(id)/data/0011.age", "\(id)/data/1011.age", "\(id)/data/2001.age",
            "\(id)/data/9999.age", "\(id)/files/home/a.txt.v1-abcdef.age"]
        for name in strays { try await Self.put(backend, name, size: 5) }
        try await Self.put(backend, "\(id)/catalog/20261127T000000.000Z.sqlite.gz.age", size: 5)
        try await Self.put(backend, "99999999-2222-4333-8444-555555555555/data/0010.age", size: 5)
        backend.resetCounters()

        var streamed: [CheckFinding] = []
        var report = try await repository.checker.check(repair: false) { streamed.append($0) }
        #expect(backend.calls(.list) >= 2, "the listing was not paged")
        #expect(report.counts[.missing] == missing.count + 1)
        let expected = Set((missing + [500]).map { repository.names[$0] })
        #expect(Set(streamed.filter { $0.kind == .missing }.map(\.object)) == expected)
        #expect(streamed.filter { $0.kind == .unreferenced }.map(\.object) == strays)
        #expect(report.intact == repository.names.count - missing.count - 1)
        #expect(report.samples.count == 10 + 6, "ten samples of the missing, all six unreferenced")
        #expect(report.remaining == missing.count + 1 + strays.count)

        // verify's quick check walks the same way and sees the same missing objects.
        let verifier = Verifier(catalog: repository.catalog, backend: backend, repositoryID: id)
        let verified = try await verifier.verify(depth: .quick)
        #expect(verified.problems.count == missing.count + 1)

        var deleting: [String] = []
        try await repository.checker.deleteUnreferenced(report: &report) { name, _ in deleting.append(name) }
        #expect(deleting == strays)
        #expect(report.deleted == strays.count && report.deletedBytes == 5 * Int64(strays.count))
        #expect(try await backend.stat(try ObjectName("\(id)/catalog/20261127T000000.000Z.sqlite.gz.age")) != nil)
        #expect(try await backend.stat(try ObjectName("99999999-2222-4333-8444-555555555555/data/0010.age")) != nil)
        let again = try await repository.checker.check(repair: false)
        #expect(again.counts[.unreferenced] == nil && again.counts[.missing] == missing.count + 1)
    }

    @Test func aRepairMarksMissingObjectsOnceAndLostOnesStayQuiet() async throws {
        let repository = try await Recorded(count: 3)
        defer { repository.scratch.remove() }
        try await repository.backend.delete(try ObjectName(repository.names[1]))
        let first = try await repository.checker.check(repair: true)
        // No version uses these contents (the catalog holds contents only), so nothing can be stored again.
        #expect(first.samples.map(\.action) == [.recordedLost])
        #expect(first.isClean)
        let damaged = try repository.catalog.object(repositoryID: Self.repository, name: repository.names[1])?.damagedAt
        #expect(damaged != nil)
        let second = try await repository.checker.check(repair: false)
        #expect(second.counts[.lost] == 1 && second.isClean)
    }
}
