import Foundation
import GRDB
import Testing

@testable import ArchiverKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Helpers

/// A temporary folder holding one catalog; removed when the test ends.
private final class Scratch {
    let root: URL
    let path: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-tests-\(UUID().uuidString)")
        path = root.appendingPathComponent("state/catalog.sqlite").path
    }

    func file(_ name: String) -> String { root.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: root) }
}

private let repo = "7d0c6a3e-2f7b-4a38-9d7e-0c1f5b2a9e11"
private let otherRepo = "0b9f2d51-8c44-4e0a-a6a2-5d3e7f1c2b90"
private let source = "photos"
private let recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A SHA-256-sized value that differs per tag.
private func digest(_ tag: String, length: Int = 32) -> [UInt8] {
    var value = [UInt8](repeating: 0, count: length)
    for (index, byte) in tag.utf8.enumerated() { value[index % length] &+= byte &+ UInt8(truncatingIfNeeded: index) }
    return value
}

/// Opens a catalog with one registered repository and the run lock held.
private func openForBackup(_ scratch: Scratch) throws -> (Catalog, CatalogLock) {
    let catalog = try Catalog(path: scratch.path)
    let lock = try catalog.acquireRunLock(command: "backup")
    try catalog.registerRepository(id: repo, spec: "local:/mnt/usb/archive")
    return (catalog, lock)
}

/// Records a stored content for `data` (described by a tag and a size) and returns its id.
@discardableResult
private func storeContent(
    _ catalog: Catalog, run: Int64, tag: String, size: Int64, repository: String = repo, segments: Int = 1
) throws -> Int64 {
    let per = size / Int64(segments)
    let objects = (0..<segments).map { index in
        let offset = per * Int64(index)
        let length = index == segments - 1 ? size - offset : per
        return NewObject(
            segment: index, name: "obj/\(tag)/\(UUID().uuidString)", storedSize: length + 200,
            storedMD5: digest("md5 \(tag) \(index)", length: 16), storedSHA256: digest("stored \(tag) \(index)"),
            plaintextOffset: offset, plaintextSize: length)
    }
    return try catalog.recordContent(
        NewContent(
            repositoryID: repository, runID: run, plaintextSHA256: digest(tag), plaintextSize: size, encrypted: true,
            recipients: [recipient], compression: "gzip:6", formatID: "archiver-age-v1"),
        objects: objects)
}

/// Stores a file (content and version) at `dir/name`.
@discardableResult
private func storeFile(
    _ catalog: Catalog, run: Int64, dir: [UInt8] = [], name: [UInt8], tag: String, size: Int64 = 10,
    mtime: Int64 = 1_700_000_000_000_000_000
) throws -> Int64 {
    let content = try storeContent(catalog, run: run, tag: tag, size: size)
    return try catalog.recordVersion(
        runID: run, repositoryID: repo, source: source,
        entry: NewVersion(
            dir: dir, name: name, display: String(decoding: CatalogPathForTests.join(dir, name), as: UTF8.self),
            kind: .file, size: size, mtimeNs: mtime, ctimeNs: mtime, inode: 42, mode: 0o100644, uid: 1000,
            gid: 1000, contentID: content))
}

/// Records a folder at `dir/name`.
private func storeDir(_ catalog: Catalog, run: Int64, dir: [UInt8] = [], name: [UInt8]) throws {
    try catalog.recordVersion(
        runID: run, repositoryID: repo, source: source,
        entry: NewVersion(
            dir: dir, name: name, display: String(decoding: CatalogPathForTests.join(dir, name), as: UTF8.self),
            kind: .dir, size: 0, mtimeNs: 1, ctimeNs: 1, inode: 7, mode: 0o040755, uid: 1000, gid: 1000,
            contentID: nil))
}

private enum CatalogPathForTests {
    static func join(_ dir: [UInt8], _ name: [UInt8]) -> [UInt8] { dir.isEmpty ? name : dir + [0x2F] + name }
}

/// The state as of a run as "path=size" strings (paths decoded lossily, for readable failures).
private func stateSet(_ catalog: Catalog, run: Int64, source: String? = nil, prefix: [UInt8]? = nil) throws
    -> [String]
{
    var items: [String] = []
    try catalog.state(repositoryID: repo, asOfRun: run, source: source, pathPrefix: prefix).forEach { item in
        items.append("\(String(decoding: item.version.path, as: UTF8.self))=\(item.version.size)")
    }
    return items
}

/// Runs `body` and returns the `ArchiverError` it throws.
private func archiverError(_ body: () throws -> Void) -> ArchiverError? {
    do {
        try body()
        return nil
    } catch let error as ArchiverError {
        return error
    } catch {
        Issue.record("expected an ArchiverError, got \(error)")
        return nil
    }
}

/// Runs SQL on a database file directly (to tamper with copies).
private func tamper(_ path: String, _ sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.writeWithoutTransaction { try $0.execute(sql: sql) }
    try queue.close()
}

private func fileMode(_ path: String) -> mode_t {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return info.st_mode & 0o777
}

// MARK: - Tests

@Suite("Catalog")
struct CatalogTests {
    @Test("byte paths round-trip exactly: invalid UTF-8 and NFC/NFD twins stay distinct")
    func bytePathsRoundTrip() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        let invalid: [UInt8] = [0x66, 0xFF, 0x6F]
        let nfc: [UInt8] = bytes("\u{E9}")  // é as one scalar: C3 A9
        let nfd: [UInt8] = bytes("e\u{301}")  // e + combining acute: 65 CC 81
        #expect(nfc != nfd)
        let dir: [UInt8] = [0x64, 0x80, 0x2F, 0x73]  // "d\x80/s": a folder whose own name is not UTF-8
        for (index, name) in [invalid, nfc, nfd].enumerated() {
            try storeFile(catalog, run: run, dir: dir, name: name, tag: "f\(index)", size: Int64(index + 1))
        }
        try catalog.finishRun(run, status: .completed, counts: RunCounts())

        let entries = try catalog.currentEntries(repositoryID: repo, source: source, dir: dir)
        // Byte order: 65 CC 81 (NFD) < 66 FF 6F (invalid) < C3 A9 (NFC).
        #expect(entries.map(\.name) == [nfd, invalid, nfc])
        let sizes = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.size) })
        #expect(sizes[invalid] == 1 && sizes[nfc] == 2 && sizes[nfd] == 3)

        for name in [invalid, nfc, nfd] {
            let history = try catalog.versions(repositoryID: repo, source: source, dir: dir, name: name)
            #expect(history.count == 1)
            #expect(history.first?.name == name && history.first?.dir == dir)
        }
        // Text that merely looks the same finds nothing: lookups are by bytes.
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: bytes("d\u{FFFD}/s")).isEmpty)

        var restored: [[UInt8]] = []
        try catalog.state(repositoryID: repo, asOfRun: run, source: source, pathPrefix: dir).forEach {
            restored.append($0.version.path)
        }
        #expect(restored == [dir + [0x2F] + nfd, dir + [0x2F] + invalid, dir + [0x2F] + nfc])
        // The root folder's empty dir is stored as an empty BLOB, not NULL.
        try storeFile(catalog, run: try catalog.beginRun(repositoryID: repo, dryRun: false), name: invalid, tag: "root")
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: []).map(\.name) == [invalid])
    }

    @Test("state(asOfRun:) gives each run's set; an interrupted later run leaves the last completed run's state alone")
    func stateAsOfRuns() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }

        let run1 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeFile(catalog, run: run1, name: bytes("a.txt"), tag: "a1", size: 1)
        try storeFile(catalog, run: run1, name: bytes("b.txt"), tag: "b1", size: 2)
        try storeDir(catalog, run: run1, name: bytes("d"))
        try storeFile(catalog, run: run1, dir: bytes("d"), name: bytes("x"), tag: "x1", size: 3)
        try catalog.finishRun(run1, status: .completed, counts: RunCounts(filesSeen: 4, stored: 3))

        let run2 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeFile(catalog, run: run2, name: bytes("a.txt"), tag: "a2", size: 10)
        #expect(
            try catalog.markDeleted(runID: run2, repositoryID: repo, source: source, dir: [], names: [bytes("b.txt")])
                == 1)
        try catalog.markUnchanged(runID: run2, repositoryID: repo, source: source, dir: bytes("d"), name: bytes("x"))
        try catalog.finishRun(run2, status: .completed, counts: RunCounts(filesSeen: 3, stored: 1, unchanged: 2))

        let run3 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeFile(catalog, run: run3, name: bytes("a.txt"), tag: "a3", size: 100)
        try storeFile(catalog, run: run3, name: bytes("c.txt"), tag: "c3", size: 4)
        try catalog.markDeleted(runID: run3, repositoryID: repo, source: source, dir: [], names: [bytes("d")])
        try catalog.finishRun(run3, status: .interrupted, counts: RunCounts())

        #expect(try stateSet(catalog, run: run1) == ["a.txt=1", "b.txt=2", "d=0", "d/x=3"])
        #expect(try stateSet(catalog, run: run2) == ["a.txt=10", "d=0", "d/x=3"])
        #expect(try stateSet(catalog, run: run3) == ["a.txt=100", "c.txt=4"])
        #expect(try catalog.lastCompletedRun(repositoryID: repo)?.id == run2)
        #expect(try catalog.run(run3)?.status == .interrupted)

        // A run that was never finished (its process died) is marked interrupted by the next beginRun, and the
        // state of the last completed run is still exactly what it was.
        let run4 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeFile(catalog, run: run4, dir: bytes("d"), name: bytes("x"), tag: "x4", size: 5)
        let run5 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        #expect(try catalog.run(run4)?.status == .interrupted)
        #expect(try catalog.run(run4)?.finishedAt == nil)
        try catalog.finishRun(run5, status: .failed, counts: RunCounts())
        #expect(try catalog.lastCompletedRun(repositoryID: repo)?.id == run2)
        #expect(try stateSet(catalog, run: run2) == ["a.txt=10", "d=0", "d/x=3"])

        // History of one path, oldest first, with the runs' times.
        let history = try catalog.versions(repositoryID: repo, source: source, dir: [], name: bytes("a.txt"))
        #expect(history.map(\.size) == [1, 10, 100])
        #expect(history.map(\.firstRun) == [run1, run2, run3])
        #expect(history.map(\.endRun) == [run2, run3, nil])
        #expect(history[0].firstRunFinishedAt != nil)
        #expect(try catalog.version(id: history[1].id) == history[1])

        // lastCompletedRun(finishedAtOrBefore:) picks by time.
        let first = try #require(try catalog.run(run1)?.finishedAt)
        #expect(try catalog.lastCompletedRun(repositoryID: repo, finishedAtOrBefore: first)?.id == run1)
        #expect(
            try catalog.lastCompletedRun(repositoryID: repo, finishedAtOrBefore: first.addingTimeInterval(-3600)) == nil
        )
        #expect(try catalog.runs(repositoryID: repo, limit: 2).map(\.id) == [run5, run4])
        #expect(try catalog.run(run2)?.counts == RunCounts(filesSeen: 3, stored: 1, unchanged: 2))
    }

    @Test("markDeleted of a folder ends its subtree but not siblings sharing a prefix (a vs ab, a/ vs a0)")
    func markDeletedSubtree() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run1 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeDir(catalog, run: run1, name: bytes("a"))
        try storeFile(catalog, run: run1, dir: bytes("a"), name: bytes("x"), tag: "ax")
        try storeDir(catalog, run: run1, dir: bytes("a"), name: bytes("sub"))
        try storeFile(catalog, run: run1, dir: bytes("a/sub"), name: bytes("y"), tag: "ay")
        try storeFile(catalog, run: run1, name: bytes("ab"), tag: "ab")
        try storeDir(catalog, run: run1, name: bytes("a0"))  // '0' is the byte right after '/'
        try storeFile(catalog, run: run1, dir: bytes("a0"), name: bytes("z"), tag: "a0z")
        try storeDir(catalog, run: run1, name: bytes("a.b"))  // '.' sorts before '/'
        try storeFile(catalog, run: run1, dir: bytes("a.b"), name: bytes("w"), tag: "abw")
        try catalog.finishRun(run1, status: .completed, counts: RunCounts())

        let run2 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        let ended = try catalog.markDeleted(
            runID: run2, repositoryID: repo, source: source, dir: [], names: [bytes("a")])
        #expect(ended == 4)
        try catalog.finishRun(run2, status: .completed, counts: RunCounts())

        // (dir, name) order: the root's entries first, then each folder's.
        #expect(try stateSet(catalog, run: run2) == ["a.b=0", "a0=0", "ab=10", "a.b/w=10", "a0/z=10"])
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: bytes("a")).isEmpty)
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: bytes("a/sub")).isEmpty)
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: bytes("a0")).count == 1)
        #expect(try stateSet(catalog, run: run1).count == 9)
    }

    @Test("a folder replaced by a file ends everything that was below the folder")
    func folderReplacedByFile() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run1 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeDir(catalog, run: run1, name: bytes("p"))
        try storeFile(catalog, run: run1, dir: bytes("p"), name: bytes("inner"), tag: "inner")
        try catalog.finishRun(run1, status: .completed, counts: RunCounts())
        let run2 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeFile(catalog, run: run2, name: bytes("p"), tag: "p-file", size: 7)
        try catalog.finishRun(run2, status: .completed, counts: RunCounts())
        #expect(try stateSet(catalog, run: run2) == ["p=7"])
        #expect(try stateSet(catalog, run: run1) == ["p=0", "p/inner=10"])
    }

    @Test("state filters by source and path prefix and pages through more rows than one page")
    func statePagingAndFilters() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        let content = try storeContent(catalog, run: run, tag: "shared", size: 10, segments: 3)
        let count = Catalog.pageSize * 2 + 17
        for index in 0..<count {
            try catalog.recordVersion(
                runID: run, repositoryID: repo, source: source,
                entry: NewVersion(
                    dir: bytes("big"), name: bytes(String(format: "f%05d", index)), display: "big/f\(index)",
                    kind: .file, size: 10, mtimeNs: 1, ctimeNs: 1, inode: UInt64(index), mode: 0o100600, uid: 0,
                    gid: 0, contentID: content))
        }
        try storeFile(catalog, run: run, name: bytes("bigger"), tag: "bigger")
        try catalog.recordVersion(
            runID: run, repositoryID: repo, source: "music",
            entry: NewVersion(
                dir: [], name: bytes("link"), display: "link", kind: .symlink, size: 0, mtimeNs: 1, ctimeNs: 1,
                inode: UInt64.max, mode: 0o120777, uid: 0, gid: 0, linkTarget: [0x2E, 0x2E, 0xFE], contentID: nil))
        try catalog.finishRun(run, status: .completed, counts: RunCounts())

        var seen = 0
        var previous: [UInt8]?
        try catalog.state(repositoryID: repo, asOfRun: run, source: source, pathPrefix: bytes("big")).forEach { item in
            seen += 1
            if let previous { #expect(previous.lexicographicallyPrecedes(item.version.path)) }
            previous = item.version.path
            #expect(item.content?.id == content)
            #expect(item.objects.map(\.segment) == [0, 1, 2])
        }
        #expect(seen == count)
        let cursor = try catalog.state(repositoryID: repo, asOfRun: run, source: nil, pathPrefix: nil)
        #expect(try cursor.count() == count + 2)
        #expect(try stateSet(catalog, run: run, source: "music") == ["link=0"])
        var link: RestoreItem?
        try catalog.state(repositoryID: repo, asOfRun: run, source: "music", pathPrefix: nil).forEach { link = $0 }
        #expect(link?.version.linkTarget == [0x2E, 0x2E, 0xFE])
        #expect(link?.version.inode == UInt64.max)
        #expect(link?.content == nil && link?.objects.isEmpty == true)
        #expect(try stateSet(catalog, run: run, prefix: bytes("bigger")) == ["bigger=10"])
        #expect(try stateSet(catalog, run: run, prefix: bytes("big/f00003")) == ["big/f00003=10"])
        #expect(throws: ArchiverError.self) {
            _ = try catalog.state(repositoryID: otherRepo, asOfRun: run, source: nil, pathPrefix: nil)
        }
    }

    @Test("dedup lookup finds a stored content by plaintext hash, size and encryption, within one repository")
    func dedupLookup() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        try catalog.registerRepository(id: otherRepo, spec: "baidu:")
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        let id = try catalog.recordContent(
            NewContent(
                repositoryID: repo, runID: run, plaintextSHA256: digest("dup"), plaintextSize: 300, encrypted: true,
                recipients: ["age1zzz", "age1aaa"], compression: "none", formatID: "archiver-age-v1"),
            objects: [
                NewObject(
                    segment: 0, name: "o/1", storedSize: 250, storedSHA256: digest("s0"), plaintextOffset: 0,
                    plaintextSize: 200),
                NewObject(
                    segment: 1, name: "o/2", storedSize: 150, storedSHA256: digest("s1"), plaintextOffset: 200,
                    plaintextSize: 100),
            ])
        let found = try catalog.findContent(
            repositoryID: repo, plaintextSHA256: digest("dup"), plaintextSize: 300, encrypted: true)
        #expect(found.map(\.id) == [id])
        #expect(found.first?.recipients == ["age1aaa", "age1zzz"])
        #expect(found.first?.compression == "none")
        #expect(found.first?.storedSize == 400)
        #expect(
            try catalog.findContent(
                repositoryID: repo, plaintextSHA256: digest("dup"), plaintextSize: 301, encrypted: true
            ).isEmpty)
        #expect(
            try catalog.findContent(
                repositoryID: repo, plaintextSHA256: digest("dup"), plaintextSize: 300, encrypted: false
            ).isEmpty)
        #expect(
            try catalog.findContent(
                repositoryID: otherRepo, plaintextSHA256: digest("dup"), plaintextSize: 300, encrypted: true
            ).isEmpty)
        #expect(try catalog.objects(contentID: id).map(\.name) == ["o/1", "o/2"])
        #expect(try catalog.object(repositoryID: repo, name: "o/2")?.segment == 1)

        // A file using it, then verify finds an object gone: the content is no longer offered, and change
        // detection is told the file must be stored again.
        try catalog.recordVersion(
            runID: run, repositoryID: repo, source: source,
            entry: NewVersion(
                dir: [], name: bytes("f"), display: "f", kind: .file, size: 300, mtimeNs: 1, ctimeNs: 1, inode: 1,
                mode: 0o100644, uid: 0, gid: 0, contentID: id))
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: []).first?.contentDamaged == false)
        let objects = try catalog.objects(contentID: id)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try catalog.markVerified(objectID: objects[0].id, deep: true, at: now)
        try catalog.markVerified(objectID: objects[1].id, deep: false, at: now)
        let verified = try catalog.objects(contentID: id)
        #expect(verified[0].verifiedAt == now && verified[0].deepVerifiedAt == now)
        #expect(verified[1].verifiedAt == now && verified[1].deepVerifiedAt == nil)
        try catalog.markDamaged(objectID: objects[1].id, at: now)
        #expect(
            try catalog.findContent(
                repositoryID: repo, plaintextSHA256: digest("dup"), plaintextSize: 300, encrypted: true
            ).isEmpty)
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: []).first?.contentDamaged == true)
        var all: [String] = []
        try catalog.forEachObject(repositoryID: repo) { all.append($0.name) }
        #expect(all == ["o/1", "o/2"])
        let stats = try catalog.stats(repositoryID: repo)
        #expect(stats.contents == 1 && stats.objects == 2 && stats.storedBytes == 400 && stats.damagedObjects == 1)
        #expect(stats.currentVersions == 1 && stats.currentFiles == 1 && stats.currentFileBytes == 300)
    }

    @Test("records that would claim something not stored are refused")
    func refusesInconsistentRecords() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        try catalog.registerRepository(id: otherRepo, spec: "mock:")
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        func content(size: Int64 = 100) -> NewContent {
            NewContent(
                repositoryID: repo, runID: run, plaintextSHA256: digest("x"), plaintextSize: size, encrypted: true,
                recipients: [recipient], compression: "gzip:6", formatID: "f")
        }
        func object(_ segment: Int, _ name: String, offset: Int64, size: Int64) -> NewObject {
            NewObject(
                segment: segment, name: name, storedSize: size, storedSHA256: digest(name), plaintextOffset: offset,
                plaintextSize: size)
        }
        // No objects, a gap between segments, a short total, a bad hash length, a bad compression.
        #expect(throws: ArchiverError.self) { try catalog.recordContent(content(), objects: []) }
        #expect(throws: ArchiverError.self) {
            try catalog.recordContent(
                content(), objects: [object(0, "g0", offset: 0, size: 40), object(1, "g1", offset: 50, size: 50)])
        }
        #expect(throws: ArchiverError.self) {
            try catalog.recordContent(content(), objects: [object(0, "s0", offset: 0, size: 99)])
        }
        var badCompression = content()
        badCompression.compression = "gzip:10"
        #expect(throws: ArchiverError.self) {
            try catalog.recordContent(badCompression, objects: [object(0, "c0", offset: 0, size: 100)])
        }
        // An object name reused in the same repository (an upload would have overwritten the first object).
        let first = try catalog.recordContent(content(), objects: [object(0, "same", offset: 0, size: 100)])
        #expect(throws: ArchiverError.self) {
            try catalog.recordContent(content(), objects: [object(0, "same", offset: 0, size: 100)])
        }
        #expect(try catalog.objects(contentID: first).count == 1)
        // A file whose size is not its content's, a non-empty file without content, content of another repository.
        func file(size: Int64, content: Int64?) -> NewVersion {
            NewVersion(
                dir: [], name: bytes("f"), display: "f", kind: .file, size: size, mtimeNs: 1, ctimeNs: 1, inode: 1,
                mode: 0, uid: 0, gid: 0, contentID: content)
        }
        #expect(throws: ArchiverError.self) {
            try catalog.recordVersion(
                runID: run, repositoryID: repo, source: source, entry: file(size: 99, content: first))
        }
        #expect(throws: ArchiverError.self) {
            try catalog.recordVersion(
                runID: run, repositoryID: repo, source: source, entry: file(size: 5, content: nil))
        }
        #expect(throws: ArchiverError.self) {
            try catalog.recordVersion(
                runID: run, repositoryID: otherRepo, source: source, entry: file(size: 100, content: first))
        }
        // A name with a slash, or "..".
        var slashed = file(size: 0, content: nil)
        slashed.name = bytes("a/b")
        #expect(throws: ArchiverError.self) {
            try catalog.recordVersion(runID: run, repositoryID: repo, source: source, entry: slashed)
        }
        slashed.name = bytes("..")
        #expect(throws: ArchiverError.self) {
            try catalog.recordVersion(runID: run, repositoryID: repo, source: source, entry: slashed)
        }
        // An empty file needs no content.
        try catalog.recordVersion(runID: run, repositoryID: repo, source: source, entry: file(size: 0, content: nil))
        try catalog.finishRun(run, status: .completed, counts: RunCounts())

        // A finished run records nothing more; a dry run records no versions or contents.
        #expect(throws: ArchiverError.self) {
            try catalog.recordVersion(
                runID: run, repositoryID: repo, source: source, entry: file(size: 0, content: nil))
        }
        #expect(throws: ArchiverError.self) {
            try catalog.finishRun(run, status: .completed, counts: RunCounts())
        }
        let dry = try catalog.beginRun(repositoryID: repo, dryRun: true)
        #expect(throws: ArchiverError.self) {
            try catalog.recordVersion(
                runID: dry, repositoryID: repo, source: source, entry: file(size: 0, content: nil))
        }
        #expect(throws: ArchiverError.self) {
            try catalog.markDeleted(runID: dry, repositoryID: repo, source: source, dir: [], names: [bytes("f")])
        }
        try catalog.finishRun(dry, status: .completed, counts: RunCounts())
        #expect(try catalog.lastCompletedRun(repositoryID: repo)?.id == run)
        #expect(try catalog.currentEntries(repositoryID: repo, source: source, dir: []).count == 1)
    }

    @Test("failure streaks count consecutive failing runs and reset when the file is stored or unchanged")
    func failureStreaks() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let name = bytes("locked.db")
        func fail(_ run: Int64, _ message: String = "permission denied", file: [UInt8]? = nil) throws {
            try catalog.recordFailure(
                runID: run, repositoryID: repo, source: source, dir: bytes("var"), name: file ?? name,
                display: "var/locked.db", message: message)
        }
        let run1 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try fail(run1)
        try catalog.finishRun(run1, status: .partial, counts: RunCounts(failed: 1))
        let run2 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try fail(run2)
        try fail(run2, "still denied")  // twice in one run counts once
        try fail(run2, file: bytes("other"))
        try catalog.finishRun(run2, status: .partial, counts: RunCounts(failed: 2))
        let streaks = try catalog.failureStreaks(repositoryID: repo, minimum: 2)
        #expect(streaks.count == 1)
        #expect(streaks.first?.name == name && streaks.first?.count == 2 && streaks.first?.lastRun == run2)
        #expect(streaks.first?.message == "still denied")
        #expect(try catalog.failureStreaks(repositoryID: repo, minimum: 1).count == 2)
        #expect(
            try catalog.failures(runID: run2).map(\.message) == [
                "permission denied", "still denied", "permission denied",
            ])
        #expect(try catalog.failures(runID: run1).first?.dir == bytes("var"))

        // Found unchanged: the streak goes. A completed walk drops the streak of "other", which it did not see.
        let run3 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try catalog.markUnchanged(runID: run3, repositoryID: repo, source: source, dir: bytes("var"), name: name)
        try catalog.finishRun(run3, status: .completed, counts: RunCounts())
        #expect(try catalog.failureStreaks(repositoryID: repo, minimum: 1).isEmpty)

        // Fails again: a new streak of one; stored: gone. A dry run's failure is listed but counts no streak.
        let run4 = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try fail(run4)
        #expect(try catalog.failureStreaks(repositoryID: repo, minimum: 1).map(\.count) == [1])
        try storeFile(catalog, run: run4, dir: bytes("var"), name: name, tag: "db")
        #expect(try catalog.failureStreaks(repositoryID: repo, minimum: 1).isEmpty)
        try catalog.finishRun(run4, status: .completed, counts: RunCounts())
        let dry = try catalog.beginRun(repositoryID: repo, dryRun: true)
        try fail(dry)
        #expect(try catalog.failures(runID: dry).count == 1)
        #expect(try catalog.failureStreaks(repositoryID: repo, minimum: 1).isEmpty)
    }

    @Test("the run lock refuses a second holder, names the holder, and is released when dropped")
    func runLock() throws {
        let scratch = try Scratch()
        let first = try Catalog(path: scratch.path)
        let second = try Catalog(path: scratch.path)
        try first.registerRepository(id: repo, spec: "mock:")
        // No lock, no run.
        let unlocked = archiverError { _ = try second.beginRun(repositoryID: repo, dryRun: false) }
        #expect(unlocked?.code == .locked)

        var lock: CatalogLock? = try first.acquireRunLock(command: "backup")
        #expect(lock?.isHeld == true)
        let refused = archiverError { _ = try second.acquireRunLock(command: "backup") }
        #expect(refused?.code == .locked)
        let message = refused?.message ?? ""
        #expect(message.contains("pid \(getpid())"))
        #expect(message.contains("`backup`"))
        #expect(message.contains("started 20"))
        #expect(message.contains("another archiver"))
        #expect(fileMode(scratch.path + ".lock") == 0o600)

        lock = nil  // dropping the lock releases it
        let taken = try second.acquireRunLock(command: "prune")
        #expect(throws: ArchiverError.self) { _ = try first.acquireRunLock(command: "backup") }
        taken.release()
        #expect(!taken.isHeld)
        let again = try first.acquireRunLock(command: "backup")
        again.release()
        _ = lock
    }

    @Test("a read-only catalog sees committed data while a writer holds the lock")
    func readerSeesCommittedData() throws {
        let scratch = try Scratch()
        let (writer, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run = try writer.beginRun(repositoryID: repo, dryRun: false)
        try storeFile(writer, run: run, name: bytes("one"), tag: "one")

        let reader = try Catalog(path: scratch.path, readOnly: true)
        #expect(reader.isReadOnly)
        #expect(try reader.currentEntries(repositoryID: repo, source: source, dir: []).map(\.name) == [bytes("one")])
        try storeFile(writer, run: run, name: bytes("two"), tag: "two")
        #expect(try reader.currentEntries(repositoryID: repo, source: source, dir: []).count == 2)
        #expect(try reader.run(run)?.status == .running)
        #expect(throws: ArchiverError.self) { try reader.registerRepository(id: otherRepo, spec: "mock:") }
        #expect(throws: ArchiverError.self) { _ = try reader.acquireRunLock(command: "backup") }
        try writer.finishRun(run, status: .completed, counts: RunCounts())
        #expect(try reader.lastCompletedRun(repositoryID: repo)?.id == run)
    }

    @Test("a consistent copy opens with openUntrusted and holds the same data")
    func consistentCopy() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeDir(catalog, run: run, name: [0x64, 0xFF])
        try storeFile(catalog, run: run, dir: [0x64, 0xFF], name: bytes("e\u{301}"), tag: "copy", size: 33)
        try catalog.recordFailure(
            runID: run, repositoryID: repo, source: source, dir: [], name: bytes("x"), display: "x", message: "m")
        try catalog.finishRun(run, status: .partial, counts: RunCounts(filesSeen: 3, failed: 1))

        let copyPath = scratch.file("copy.sqlite")
        try catalog.writeConsistentCopy(to: copyPath)
        #expect(fileMode(copyPath) == 0o600)
        #expect(!FileManager.default.fileExists(atPath: copyPath + "-wal"))
        // An existing file is never overwritten.
        #expect(throws: ArchiverError.self) { try catalog.writeConsistentCopy(to: copyPath) }

        let copy = try Catalog.openUntrusted(path: copyPath)
        #expect(copy.isReadOnly)
        #expect(try copy.stats(repositoryID: repo) == catalog.stats(repositoryID: repo))
        #expect(try stateSet(copy, run: run) == stateSet(catalog, run: run))
        #expect(
            try copy.failureStreaks(repositoryID: repo, minimum: 1)
                == catalog.failureStreaks(repositoryID: repo, minimum: 1))
        #expect(try copy.runs(repositoryID: repo, limit: 10) == catalog.runs(repositoryID: repo, limit: 10))
        #expect(try copy.integrityCheck() == ["ok"])
        if SQLiteHardening.defensiveModeAvailable {
            #expect(try copy.defensiveModeIsOn() == true)
        }
        #expect(throws: ArchiverError.self) { try copy.registerRepository(id: otherRepo, spec: "mock:") }
    }

    @Test(
        "openUntrusted refuses an extra trigger, view or index, a modified table, a non-SQLite file and a damaged one",
        arguments: [
            ("trigger", "CREATE TRIGGER evil AFTER INSERT ON runs BEGIN DELETE FROM versions; END;", "trigger 'evil'"),
            ("view", "CREATE VIEW peek AS SELECT * FROM versions;", "view 'peek'"),
            ("index", "CREATE INDEX extra ON versions(display);", "index 'extra'"),
            ("table", "ALTER TABLE objects ADD COLUMN note TEXT;", "table 'objects'"),
            ("new table", "CREATE TABLE notes (x);", "table 'notes'"),
            ("migration", "INSERT INTO grdb_migrations VALUES ('v2');", "migrations"),
        ])
    func untrustedRefusesTampering(kind: String, sql: String, expected: String) throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let copyPath = scratch.file("copy-\(kind).sqlite")
        try catalog.writeConsistentCopy(to: copyPath)
        try tamper(copyPath, sql)
        let error = archiverError { _ = try Catalog.openUntrusted(path: copyPath) }
        #expect(error?.code == .catalog)
        #expect(error?.message.contains("does not have archiver's schema") == true, "\(String(describing: error))")
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.description.contains(copyPath) == true)
    }

    @Test("a catalog copy an older archiver made (fewer migrations) is recovered and brought up to date")
    func untrustedAcceptsAnOlderSchemaAndUpgradesIt() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(at: scratch.root, withIntermediateDirectories: true)
        let path = scratch.file("old-copy.sqlite")
        let old = try DatabaseQueue(path: path)
        let first = try #require(CatalogSchema.migrationIdentifiers.first)
        try CatalogSchema.migrator.migrate(old, upTo: first)
        try old.close()
        #expect(CatalogSchema.migrationIdentifiers.count > 1, "this test needs a later migration to upgrade to")

        let recovered = try Catalog.openUntrusted(path: path)
        // Up to date: the later tables exist and queries of this build work on it.
        #expect(try recovered.pendingUploadCount(repositoryID: repo) == 0)

        // An old copy with a planted trigger is still refused before anything runs on it.
        let planted = scratch.file("old-planted.sqlite")
        let queue = try DatabaseQueue(path: planted)
        try CatalogSchema.migrator.migrate(queue, upTo: first)
        try queue.close()
        try tamper(planted, "CREATE TRIGGER t AFTER INSERT ON runs BEGIN DELETE FROM versions; END;")
        let error = archiverError { _ = try Catalog.openUntrusted(path: planted) }
        #expect(error?.message.contains("does not have archiver's schema") == true, "\(String(describing: error))")
    }

    @Test("openUntrusted refuses a file that is not SQLite, a WAL-mode file and a damaged file")
    func untrustedRefusesNonDatabases() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        for index in 0..<300 { try storeFile(catalog, run: run, name: bytes("file\(index)"), tag: "t\(index)") }

        let text = scratch.file("notes.txt")
        try FileManager.default.createDirectory(at: scratch.root, withIntermediateDirectories: true)
        try Data("this is not a database\n".utf8).write(to: URL(fileURLWithPath: text))
        let notSQLite = archiverError { _ = try Catalog.openUntrusted(path: text) }
        #expect(notSQLite?.code == .catalog)
        #expect(notSQLite?.message.contains("not a SQLite database") == true)
        #expect(notSQLite?.description.contains(text) == true)

        // The live catalog itself is in WAL mode: not a self-contained copy.
        let wal = archiverError { _ = try Catalog.openUntrusted(path: scratch.path) }
        #expect(wal?.message.contains("WAL") == true)

        // Overwrite pages in the middle of a valid copy.
        let damaged = scratch.file("damaged.sqlite")
        try catalog.writeConsistentCopy(to: damaged)
        var data = try Data(contentsOf: URL(fileURLWithPath: damaged))
        let pageSize = Int(data[16]) << 8 | Int(data[17])
        #expect(data.count > pageSize * 6)
        for offset in (pageSize * 2)..<(pageSize * 5) { data[offset] = UInt8(truncatingIfNeeded: offset &* 31) }
        try data.write(to: URL(fileURLWithPath: damaged))
        let corrupt = archiverError { _ = try Catalog.openUntrusted(path: damaged) }
        #expect(corrupt?.code == .catalog)
        #expect(corrupt?.description.contains(damaged) == true)
        #expect(corrupt?.message.contains("damaged") == true, "\(String(describing: corrupt))")
    }

    @Test("a file that is not a catalog is refused with a message naming it, and left untouched")
    func refusesNonCatalogs() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(at: scratch.root, withIntermediateDirectories: true)

        let text = scratch.file("config.yaml")
        try Data("sources: []\n".utf8).write(to: URL(fileURLWithPath: text))
        let notSQLite = archiverError { _ = try Catalog(path: text) }
        #expect(notSQLite?.code == .catalog)
        #expect(notSQLite?.description.contains(text) == true)
        #expect(notSQLite?.message.contains("not an archiver catalog") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: text)) == Data("sources: []\n".utf8))

        let foreign = scratch.file("other-app.sqlite")
        try tamper(foreign, "CREATE TABLE contacts (name TEXT);")
        let before = try Data(contentsOf: URL(fileURLWithPath: foreign))
        let notCatalog = archiverError { _ = try Catalog(path: foreign) }
        #expect(notCatalog?.code == .catalog)
        #expect(notCatalog?.description.contains(foreign) == true)
        #expect(notCatalog?.message.contains("not an archiver catalog") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before)

        // Written by a newer archiver.
        _ = try Catalog(path: scratch.path)
        try tamper(scratch.path, "INSERT INTO grdb_migrations VALUES ('v9');")
        let newer = archiverError { _ = try Catalog(path: scratch.path) }
        #expect(newer?.message.contains("newer archiver") == true)
        #expect(newer?.description.contains(scratch.path) == true)

        let missing = archiverError { _ = try Catalog(path: scratch.file("nothing.sqlite"), readOnly: true) }
        #expect(missing?.code == .catalog)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("nothing.sqlite")))
    }

    @Test("the catalog file is created with mode 0600, in WAL mode, and passes integrity_check after a run")
    func fileModeAndIntegrity() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        #expect(fileMode(scratch.path) == 0o600)
        #expect(fileMode((scratch.path as NSString).deletingLastPathComponent) == 0o700)
        let header = try Data(contentsOf: URL(fileURLWithPath: scratch.path)).prefix(20)
        #expect(header[18] == 2 && header[19] == 2)  // WAL
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try storeDir(catalog, run: run, name: bytes("d"))
        for index in 0..<50 {
            try storeFile(catalog, run: run, dir: bytes("d"), name: bytes("f\(index)"), tag: "i\(index)")
        }
        try catalog.markDeleted(runID: run, repositoryID: repo, source: source, dir: [], names: [bytes("d")])
        try catalog.finishRun(run, status: .completed, counts: RunCounts(filesSeen: 51, stored: 50))
        #expect(try catalog.integrityCheck() == ["ok"])
        #expect(fileMode(scratch.path + "-wal") == 0o600)
        var readOnly = Configuration()
        readOnly.readonly = true
        let queue = try DatabaseQueue(path: scratch.path, configuration: readOnly)
        #expect(try queue.read { try String.fetchAll($0, sql: "PRAGMA foreign_key_check") }.isEmpty)
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }
}

@Suite("Catalog query plans")
struct CatalogQueryPlanTests {
    /// The restore cursor must seek an index and never sort a page in memory (a sort would hold every row of the
    /// repository, or of a source, before the first page came back).
    @Test("state pages are index seeks with no temporary sort, with and without source and prefix")
    func statePlans() throws {
        let scratch = try Scratch()
        let (catalog, lock) = try openForBackup(scratch)
        defer { lock.release() }
        let run = try catalog.beginRun(repositoryID: repo, dryRun: false)
        try catalog.finishRun(run, status: .completed, counts: RunCounts())
        let resume: (source: String, dir: [UInt8], name: [UInt8]) = (source, bytes("a"), bytes("b"))
        for filter in [nil, source] {
            for prefix in [nil, bytes("a/b")] {
                let cursor = try catalog.state(repositoryID: repo, asOfRun: run, source: filter, pathPrefix: prefix)
                for after in [nil, resume] {
                    let (sql, arguments) = cursor.pageQuery(after: after)
                    let plan = try catalog.database.read { db in
                        try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments)
                            .map { try $0.decode(String.self, forColumn: "detail") }
                    }
                    let text = plan.joined(separator: " | ")
                    #expect(!text.contains("TEMP B-TREE"), "\(text)")
                    #expect(text.contains("USING INDEX versions_by_path"), "\(text)")
                }
            }
        }
    }
}
