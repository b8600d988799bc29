import Age
import ArchiverKit
import ArchiverTestSupport
import Foundation
import Testing

/// A backed-up repository on a backend that keeps its objects in a folder (`local:`, `mock:DIR`, and `mock:DIR`
/// behaving like Baidu), for `archiver check` tests.
struct CheckRepository {
    let setup: Setup
    /// The folder holding the marker and the objects.
    let store: String
    var tree: SourceTree { setup.tree }

    static let backends = ["local", "mock", "mock-digests-first"]

    init(backend: String) throws {
        let tree = try SourceTree(largeSize: 200_000)
        switch backend {
        case "local":
            store = tree.dir.file("usb").path
            setup = try Setup(tree: tree, backend: "local:\(store)")
        case "mock":
            store = tree.dir.file("mockstore").path
            setup = try Setup(tree: tree, backend: "mock:\(store)")
        default:
            store = tree.dir.file("mockstore").path
            setup = try Setup(tree: tree, backend: "mock:\(store)?digests_first=1&slice_size=65536")
        }
        try setup.run(["init"])
        try setup.run(["backup"])
    }

    var repositoryID: String {
        get throws {
            let marker = try Data(contentsOf: URL(fileURLWithPath: store + "/archiver-repository.json"))
            return try #require((try JSONSerialization.jsonObject(with: marker) as? [String: Any])?["id"] as? String)
        }
    }

    var catalogPath: String { tree.dir.file("state/catalog.sqlite").path }

    /// The name of the object holding a file of the source (one segment), from the catalog.
    func objectName(of path: String) throws -> String {
        try storedObjectName(catalog: catalogPath, repositoryID: try repositoryID, path: path)
    }

    /// Writes a file into the store, as someone working behind the catalog's back would.
    func plant(_ name: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: store + "/" + name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Every file under the store with its bytes: what "the backend listing is unchanged" compares.
    func listing() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: store) {
            var info = stat()
            guard lstat(store + "/" + path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            files[path] = try Data(contentsOf: URL(fileURLWithPath: store + "/" + path))
        }
        return files
    }

    /// Runs `check --json` with `arguments`, expecting `status`; returns the one target's document.
    @discardableResult
    func check(_ arguments: [String] = [], expect status: Int32) throws -> CheckDocument {
        let result = try setup.run(["check", "--json"] + arguments, expect: status)
        return try CheckDocument(result)
    }

    /// Leaves the catalog and the store as a run killed between the object's commit and the catalog's would: the
    /// file's object stored under a fresh name, and its upload plan in `pending_uploads`. The object is made with
    /// the same pipeline and settings a hashes-first upload uses.
    /// - Returns: the object's name.
    func plantLandedUpload(path: String, bytes: [UInt8]) throws -> String {
        let file = try tree.dir.write("src/" + path, bytes)
        let id = try repositoryID
        let hex = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let name = "\(id)/data/\(hex.prefix(2))/\(hex).age"
        try FileManager.default.createDirectory(
            atPath: store + "/\(id)/data/\(hex.prefix(2))", withIntermediateDirectories: true)
        var options = EncodeOptions(recipients: [try X25519Recipient(setup.recipient)], compression: .off)
        let secret = ObjectSecret.random()
        options.secret = secret
        options.digests = .baidu
        options.sliceSize = 65536
        let input = open(file.path, O_RDONLY)
        let output = open(store + "/" + name, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        try #require(input >= 0 && output >= 0)
        let result = try ObjectPipeline.encode(
            from: FileDescriptorSource(fd: input, label: path, closeWhenDone: true),
            to: FileDescriptorSink(fd: output, label: name, closeWhenDone: true), options: options)
        var info = stat()
        stat(file.path, &info)
        let catalog = try Catalog(path: catalogPath)
        try catalog.savePendingUpload(
            PendingUpload(
                repositoryID: id, source: "home", path: Array(path.utf8), segment: 0, objectName: name,
                fingerprint: "\(info.st_size):0:0:\(info.st_ino)", secret: secret.bytes,
                compression: result.compression.catalogName, recipients: setup.recipient, formatID: result.formatID,
                plaintextOffset: 0, plaintextSize: result.plaintextSize, plaintextSHA256: result.plaintextSHA256,
                storedSize: result.storedSize, storedMD5: try #require(result.storedMD5),
                storedSHA256: try #require(result.storedSHA256), headMD5: try #require(result.headMD5),
                sliceSize: 65536, sliceMD5s: result.sliceMD5s, checkpoint: "{}"))
        return name
    }
}

/// The name of the object holding a file of the source `home` (one segment), from the catalog.
func storedObjectName(catalog path: String, repositoryID: String, path file: String) throws -> String {
    let catalog = try Catalog(path: path, readOnly: true)
    let (dir, name) = BytePath.split(Array(file.utf8))
    let versions = try catalog.versions(repositoryID: repositoryID, source: "home", dir: dir, name: name)
    let version = try #require(versions.last)
    let content = try #require(version.contentID)
    return try #require(try catalog.objects(contentID: content).first).name
}

/// One target of `check --json`'s document.
struct CheckDocument {
    let target: [String: Any]
    let stderr: String

    init(_ result: CommandResult) throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
        let targets = try #require(document["targets"] as? [[String: Any]])
        try #require(targets.count == 1)
        target = targets[0]
        stderr = result.stderr
    }

    var summary: [String: Any] { target["summary"] as? [String: Any] ?? [:] }
    func count(_ key: String) -> Int { summary[key] as? Int ?? -1 }
    var findings: [[String: Any]] { target["findings"] as? [[String: Any]] ?? [] }
    func findings(_ kind: String) -> [[String: Any]] { findings.filter { $0["kind"] as? String == kind } }
    var deleted: [String] { (target["deleted"] as? [[String: Any]] ?? []).compactMap { $0["object"] as? String } }
}

@Suite("archiver check", .serialized)
struct CheckTests {
    @Test(arguments: CheckRepository.backends)
    func aCleanRepositoryChecksClean(backend: String) throws {
        let repository = try CheckRepository(backend: backend)
        let document = try repository.check(expect: 0)
        #expect(document.summary["clean"] as? Bool == true)
        #expect(document.count("intact") >= 8, "\(document.summary)")
        #expect(document.findings.isEmpty, "\(document.findings)")
        let text = try repository.setup.run(["check"])
        #expect(text.stderr.contains("clean"), "\(text.stderr)")
    }

    @Test(arguments: CheckRepository.backends)
    func aDeletedObjectIsReportedMissingAndStoredAgainByTheNextBackup(backend: String) throws {
        let repository = try CheckRepository(backend: backend)
        let name = try repository.objectName(of: "docs/readme.txt")
        try FileManager.default.removeItem(atPath: repository.store + "/" + name)

        let found = try repository.check(expect: 4)
        let missing = found.findings("missing")
        #expect(missing.count == 1 && missing.first?["object"] as? String == name, "\(found.findings)")
        #expect(missing.first?["file"] as? String == "home/docs/readme.txt")
        #expect(found.count("unreferenced") == 0)

        // The repair marks it; the problem stays until a backup has stored the file again.
        let repaired = try repository.check(["--repair"], expect: 4)
        #expect(repaired.findings("missing").first?["action"] as? String == "marked for re-upload")
        // The source file did not change, yet the backup stores it again: exactly that one file.
        let backup = try repository.setup.run(["backup", "--json"])
        let counts = try #require(backup.jsonSummary)
        #expect(counts["stored"] as? Int == 1, "\(counts)")
        let restored = repository.tree.dir.file("restored").path
        try repository.setup.run(["restore", "--to", restored])
        try compareTrees(repository.tree.root.path, restored + "/home")

        // Clean again; the lost object is listed, as only a past version used it now.
        let after = try repository.check(expect: 0)
        #expect(after.findings("lost").first?["object"] as? String == name, "\(after.findings)")
        #expect(after.count("missing") == 0)
    }

    @Test(arguments: CheckRepository.backends)
    func aStrayObjectIsKeptByRepairAndDeletedOnlyWhenAsked(backend: String) throws {
        let repository = try CheckRepository(backend: backend)
        let id = try repository.repositoryID
        let stray = "\(id)/data/zz/\(String(repeating: "7", count: 32)).gz.age"
        try repository.plant(stray, TestBytes.random(3000, seed: 8))
        // Another repository shares the folder: its objects are never reported, never deleted.
        let other = "5b6f0a3e-0000-4000-8000-00000000c0de/data/aa/\(String(repeating: "a", count: 32)).age"
        try repository.plant(other, TestBytes.random(100, seed: 9))
        let metadata = try repository.listing().keys.filter {
            $0 == "archiver-repository.json" || $0.contains("/catalog/")
        }
        #expect(metadata.count >= 3, "\(metadata)")

        let found = try repository.check(expect: 4)
        #expect(found.findings("unreferenced").map { $0["object"] as? String } == [stray], "\(found.findings)")
        #expect(found.findings("unreferenced").first?["bytes"] as? Int == 3000)
        #expect(!found.findings.contains { ($0["object"] as? String ?? "").contains("c0de") })

        let kept = try repository.check(["--repair"], expect: 4)
        #expect(kept.findings("unreferenced").first?["action"] as? String == "kept")
        #expect(FileManager.default.fileExists(atPath: repository.store + "/" + stray))

        // Deleting lists first (name and bytes), then deletes; text output, as a person reads it.
        let deleting = try repository.setup.run(["check", "--repair", "--delete-unreferenced"])
        let listed = try #require(deleting.stderr.range(of: "unreferenced: \(stray) (2.9 KiB)"), "\(deleting.stderr)")
        let deleted = try #require(deleting.stderr.range(of: "deleting \(stray)"), "\(deleting.stderr)")
        #expect(listed.upperBound <= deleted.lowerBound)
        #expect(!FileManager.default.fileExists(atPath: repository.store + "/" + stray))
        #expect(FileManager.default.fileExists(atPath: repository.store + "/" + other))
        for path in metadata {
            #expect(FileManager.default.fileExists(atPath: repository.store + "/" + path), "\(path)")
        }
        try repository.check(expect: 0)
        let restored = repository.tree.dir.file("restored").path
        try repository.setup.run(["restore", "--to", restored])
        try compareTrees(repository.tree.root.path, restored + "/home")
    }

    @Test(arguments: CheckRepository.backends)
    func anObjectThatLandedBeforeTheCatalogCommitIsAdopted(backend: String) throws {
        let repository = try CheckRepository(backend: backend)
        let bytes = TestBytes.random(150_000, seed: 21)
        let name = try repository.plantLandedUpload(path: "docs/landed.bin", bytes: bytes)

        let found = try repository.check(expect: 4)
        let unfinished = found.findings("unfinished")
        #expect(unfinished.count == 1 && unfinished.first?["object"] as? String == name, "\(found.findings)")
        #expect(unfinished.first?["file"] as? String == "home/docs/landed.bin")
        let detail = unfinished.first?["detail"] as? String
        #expect(detail?.contains("adopts it") == true, "\(detail ?? "")")
        #expect(unfinished.first?["age_seconds"] is Int)
        #expect(found.count("unreferenced") == 0, "an object a plan names is not unreferenced")

        let adopted = try repository.check(["--repair"], expect: 0)
        #expect(adopted.count("adopted") == 1, "\(adopted.summary)")
        try repository.check(expect: 0)

        // The next backup records the file from the adopted object: nothing is uploaded.
        let backup = try repository.setup.run(["backup", "--json"])
        let counts = try #require(backup.jsonSummary)
        #expect(counts["stored"] as? Int == 0, "\(counts)")
        #expect(counts["deduplicated"] as? Int == 1, "\(counts)")
        let restored = repository.tree.dir.file("restored").path
        try repository.setup.run(["restore", "--to", restored])
        try compareTrees(repository.tree.root.path, restored + "/home")
        #expect(try Data(contentsOf: URL(fileURLWithPath: restored + "/home/docs/landed.bin")) == Data(bytes))
    }

    @Test(arguments: CheckRepository.backends)
    func checkWithoutRepairChangesNothing(backend: String) throws {
        let repository = try CheckRepository(backend: backend)
        let id = try repository.repositoryID
        let missing = try repository.objectName(of: "docs/readme.txt")
        try FileManager.default.removeItem(atPath: repository.store + "/" + missing)
        try repository.plant("\(id)/data/zz/stray.age", TestBytes.random(500, seed: 3))
        _ = try repository.plantLandedUpload(path: "docs/landed.bin", bytes: TestBytes.random(70_000, seed: 4))
        let catalog = try Data(contentsOf: URL(fileURLWithPath: repository.catalogPath))
        let wal = try? Data(contentsOf: URL(fileURLWithPath: repository.catalogPath + "-wal"))
        let listing = try repository.listing()

        let found = try repository.check(expect: 4)
        #expect(found.count("missing") == 1 && found.count("unreferenced") == 1 && found.count("unfinished") == 1)
        try repository.setup.run(["check", "--verbose"], expect: 4)
        try repository.setup.run(["check", "--delete-unreferenced"], expect: 64)

        #expect(try Data(contentsOf: URL(fileURLWithPath: repository.catalogPath)) == catalog, "the catalog changed")
        let walAfter = try? Data(contentsOf: URL(fileURLWithPath: repository.catalogPath + "-wal"))
        #expect(walAfter == wal || (wal == nil && walAfter?.isEmpty == true), "the catalog's log changed")
        #expect(try repository.listing() == listing, "the backend changed")
        // The same findings a second time: nothing was marked or adopted.
        let again = try repository.check(expect: 4)
        #expect(again.findings("missing").first?["action"] == nil)
        #expect(again.count("adopted") == 0)
    }

    @Test func aCatalogThatDoesNotKnowTheRepositoryDeletesNothing() throws {
        let repository = try CheckRepository(backend: "local")
        let listing = try repository.listing()
        // The NAS was lost and a fresh catalog made: every object looks unreferenced.
        let fresh = repository.tree.dir.file("fresh/catalog.sqlite").path
        let config = try String(contentsOfFile: repository.setup.config, encoding: .utf8)
        try config.replacingOccurrences(of: repository.catalogPath, with: fresh)
            .write(toFile: repository.setup.config, atomically: true, encoding: .utf8)
        try repository.setup.run(["init"])
        let found = try repository.check(expect: 4)
        #expect(found.count("unreferenced") >= 8, "\(found.summary)")
        let refused = try repository.setup.run(["check", "--repair", "--delete-unreferenced"], expect: 1)
        #expect(refused.stderr.contains("refusing to delete"), "\(refused.stderr)")
        #expect(try repository.listing() == listing, "objects were deleted")
    }

    @Test func aRepairWaitsForNoBackup() throws {
        let repository = try CheckRepository(backend: "local")
        let catalog = try Catalog(path: repository.catalogPath)
        let lock = try catalog.acquireRunLock(command: "backup")
        let refused = try repository.setup.run(["check", "--repair"], expect: 7)
        #expect(refused.stderr.contains("catalog lock"), "\(refused.stderr)")
        // A plain check reads alongside a running backup.
        try repository.setup.run(["check"])
        lock.release()
    }
}

extension BaiduBackupTests {
    @Test func checkFindsMissingAndUnreferencedObjectsOnBaidu() throws {
        let tree = try SourceTree(largeSize: 3 * BaiduSetup.sliceSize + 11)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        try baidu.run(["backup"])
        let clean = try CheckDocument(try baidu.run(["check", "--json"]))
        #expect(clean.count("intact") >= 8, "\(clean.summary)")
        let id = try #require(clean.target["repository"] as? String)
        let root = "/apps/e2bdy"

        // Behind the catalog's back: one object deleted through Baidu's API, a stray planted, and an object of
        // another repository beside ours.
        let name = try storedObjectName(
            catalog: tree.dir.file("state/catalog.sqlite").path, repositoryID: id, path: "docs/readme.txt")
        let tokens = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: baidu.tokenFile)))
        let token = try #require((tokens as? [String: Any])?["access_token"] as? String)
        let filelist = "[\"\(root)/\(name)\"]".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let deleted = try baidu.fake.request(
            "POST", "/rest/2.0/xpan/file?method=filemanager&opera=delete&access_token=\(token)",
            headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Data("async=0&filelist=\(filelist)".utf8))
        #expect(deleted.object["errno"] as? Int == 0, "\(String(decoding: deleted.body, as: UTF8.self))")
        let strayFile = try tree.dir.write("stray.bin", TestBytes.random(5000, seed: 2))
        let stray = "\(id)/data/zz/\(String(repeating: "e", count: 32)).age"
        _ = try baidu.fake.control("put", ["path": "\(root)/\(stray)", "source": strayFile.path])
        let other = "\(root)/0d0c0b0a-0000-4000-8000-000000000001/data/aa/\(String(repeating: "b", count: 32)).age"
        _ = try baidu.fake.control("put", ["path": other, "source": strayFile.path])
        func files() throws -> [String] {
            let files = try #require(try baidu.fake.control("files") as? [[String: Any]])
            return files.compactMap { $0["path"] as? String }.sorted()
        }
        let before = try files()

        let found = try CheckDocument(try baidu.run(["check", "--json"], expect: 4))
        #expect(found.findings("missing").map { $0["object"] as? String } == [name], "\(found.findings)")
        #expect(found.findings("unreferenced").map { $0["object"] as? String } == [stray], "\(found.findings)")
        #expect(try files() == before, "check without --repair changed the netdisk")

        try baidu.run(["check", "--repair"], expect: 4)
        #expect(try files() == before, "--repair deleted something")
        try baidu.run(["backup"])
        try baidu.restoreAndCompare()

        let cleaned = try CheckDocument(try baidu.run(["check", "--json", "--repair", "--delete-unreferenced"]))
        #expect(cleaned.deleted == [stray])
        let after = try files()
        #expect(!after.contains("\(root)/\(stray)"))
        #expect(after.contains(other))
        #expect(after.contains("\(root)/archiver-repository.json"))
        try baidu.run(["check"])
    }
}

extension BaiduBackupTests {
    @Test func checkAdoptsAFileBaiduCreatedBeforeTheKilledRunRecordedIt() throws {
        let tree = try SourceTree(onlyLarge: 6 * BaiduSetup.sliceSize + 7)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        try baidu.killBackupBetweenCreateAndCommit(largerThan: 6 * BaiduSetup.sliceSize)

        let found = try CheckDocument(try baidu.run(["check", "--json"], expect: 4))
        let unfinished = found.findings("unfinished")
        #expect(unfinished.count == 1, "\(found.findings)")
        #expect(unfinished.first?["file"] as? String == "home/big/video.bin")
        let detail = unfinished.first?["detail"] as? String
        #expect(detail?.contains("adopts it") == true, "\(detail ?? "")")

        let adopted = try CheckDocument(try baidu.run(["check", "--json", "--repair"]))
        #expect(adopted.count("adopted") == 1, "\(adopted.summary)")
        try baidu.fake.control("reset-stats", [:])
        try baidu.run(["backup"])
        // Only the catalog copy is uploaded: the file is recorded from the adopted object.
        let stats = try baidu.fake.stats()
        #expect((stats["bytes_received"] ?? 0) < 6 * BaiduSetup.sliceSize, "the file was uploaded again: \(stats)")
        let files = try #require(try baidu.fake.control("files") as? [[String: Any]])
        let large = files.filter { ($0["size"] as? Int ?? 0) > 6 * BaiduSetup.sliceSize }
        #expect(large.count == 1, "a second copy was made")
        try baidu.restoreAndCompare()
        try baidu.run(["check"])
    }
}
