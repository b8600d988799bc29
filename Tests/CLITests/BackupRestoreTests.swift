import ArchiverTestSupport
import Foundation
import Testing

/// A source tree with the awkward cases users have: nested folders, Chinese and emoji names, a non-UTF-8 name, NFC
/// and NFD twins in one folder, an empty file, a large file, symlinks.
struct SourceTree {
    let dir: TemporaryDirectory
    var root: URL { dir.file("src") }

    static let nfc = "caf\u{00E9}.txt"
    static let nfd = "cafe\u{0301}.txt"

    /// A tree holding one file of `size` random bytes, `src/big/video.bin`.
    init(onlyLarge size: Int) throws {
        dir = try TemporaryDirectory()
        try dir.write("src/big/video.bin", TestBytes.random(size, seed: 5))
    }

    init(largeSize: Int = 100 * 1024 * 1024) throws {
        dir = try TemporaryDirectory()
        try dir.write("src/docs/readme.txt", TestBytes.text(20_000, seed: 1))
        try dir.write("src/docs/deep/er/still/notes.md", TestBytes.text(5_000, seed: 2))
        try dir.write("src/照片/旅行 2024/长城.txt", TestBytes.text(3_000, seed: 3))
        try dir.write("src/emoji 😀/party 🎉.txt", TestBytes.text(1_000, seed: 4))
        try dir.write("src/twins/\(Self.nfc)", Array("composed".utf8))
        try dir.write("src/twins/\(Self.nfd)", Array("decomposed".utf8))
        try dir.write("src/empty.txt", [])
        try dir.write("src/big/video.bin", TestBytes.random(largeSize, seed: 5))
        try dir.write("src/.hidden", Array("dot".utf8))
        // A name that is not UTF-8 (as old Windows shares produce).
        let raw: [UInt8] = Array((root.path + "/latin1-").utf8) + [0xE9, 0x2E, 0x74, 0x78, 0x74, 0]
        let fd = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT, 0o644) }
        #expect(fd >= 0)
        _ = write(fd, "not utf-8 name", 14)
        close(fd)
        try FileManager.default.createSymbolicLink(atPath: root.path + "/docs/link-to-readme", withDestinationPath: "readme.txt")
        try FileManager.default.createSymbolicLink(atPath: root.path + "/dangling", withDestinationPath: "/nonexistent/target")
        chmod(root.path + "/docs/readme.txt", 0o640)
    }
}

/// A config and a key for a tree, backing up to `backend`.
struct Setup {
    let tree: SourceTree
    let config: String
    let key: String
    let recipient: String

    init(tree: SourceTree, backend: String? = nil, compression: String = "auto", extra: String = "") throws {
        self.tree = tree
        key = tree.dir.file("key.txt").path
        let generated = try CommandRunner.archiver(["key", "generate", "--output", key])
        try #require(generated.status == 0, "\(generated.stderr)")
        recipient = generated.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        config = tree.dir.file("config.yml").path
        try writeConfig(backend: backend ?? "local:\(tree.dir.file("usb").path)", compression: compression, extra: extra)
        try FileManager.default.createDirectory(at: tree.dir.file("usb"), withIntermediateDirectories: true)
    }

    func writeConfig(backend: String, compression: String = "auto", extra: String = "") throws {
        let text = """
            catalog: \(tree.dir.file("state/catalog.sqlite").path)
            backend: "\(backend)"
            recipients: [\(recipient)]
            identity: \(key)
            compression: \(compression)
            sources:
              - local: \(tree.root.path)
                remote: home
            \(extra)
            """
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    @discardableResult
    func run(_ args: [String], expect status: Int32 = 0, _ comment: String = "") throws -> CommandResult {
        let result = try CommandRunner.archiver(args + ["--config", config])
        #expect(result.status == status, "archiver \(args.joined(separator: " ")) \(comment): \(result.stderr)")
        return result
    }
}

/// Compares two trees: same names (as bytes), same content, modes and mtimes of files, same symlink targets.
func compareTrees(_ a: String, _ b: String, ignoring: Set<String> = []) throws {
    let fm = FileManager.default
    let left = Set(try fm.subpathsOfDirectory(atPath: a)).subtracting(ignoring)
    let right = Set(try fm.subpathsOfDirectory(atPath: b)).subtracting(ignoring)
    #expect(left == right, "differing entries: \(left.symmetricDifference(right))")
    for path in left.intersection(right) {
        var sa = stat()
        var sb = stat()
        lstat(a + "/" + path, &sa)
        lstat(b + "/" + path, &sb)
        #expect(sa.st_mode == sb.st_mode, "mode of \(path)")
        if sa.st_mode & S_IFMT == S_IFREG {
            #expect(fm.contentsEqual(atPath: a + "/" + path, andPath: b + "/" + path), "content of \(path)")
            #expect(sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec == sb.st_mtim.tv_nsec, "mtime of \(path)")
        } else if sa.st_mode & S_IFMT == S_IFLNK {
            #expect(try fm.destinationOfSymbolicLink(atPath: a + "/" + path) == fm.destinationOfSymbolicLink(atPath: b + "/" + path))
        }
    }
}

@Suite(.serialized) struct BackupRestoreTests {
    @Test func backupAndRestoreToALocalDisk() throws {
        let tree = try SourceTree()
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        // Twins and the non-UTF-8 name are distinct entries in the source.
        #expect(try FileManager.default.contentsOfDirectory(atPath: tree.root.path + "/twins").count == 2)

        let first = try setup.run(["backup"])
        #expect(first.stderr.contains("completed"), "\(first.stderr)")
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        try compareTrees(tree.root.path, restored + "/home")

        // Second run: nothing changed, nothing stored.
        let json = try setup.run(["backup", "--json"])
        let lastLine = json.stdoutText.split(separator: "\n").last.map(String.init) ?? ""
        let summary = try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any]
        #expect(summary?["stored"] as? Int == 0)
        #expect((summary?["unchanged"] as? Int ?? 0) >= 9)

        // Change, add, delete; back up again; the latest state restores exactly.
        Thread.sleep(forTimeInterval: 1.1)
        let beforeChange = Date()
        Thread.sleep(forTimeInterval: 1.1)
        try tree.dir.write("src/docs/readme.txt", TestBytes.text(25_000, seed: 99))
        try tree.dir.write("src/new/file.txt", Array("new".utf8))
        try FileManager.default.removeItem(atPath: tree.root.path + "/照片")
        try setup.run(["backup"])
        let latest = tree.dir.file("latest").path
        try setup.run(["restore", "--to", latest])
        try compareTrees(tree.root.path, latest + "/home")

        // The past: the state before the change, by time.
        let past = tree.dir.file("past").path
        try setup.run(["restore", "--to", past, "--at", ISO8601DateFormatter().string(from: beforeChange)])
        #expect(FileManager.default.fileExists(atPath: past + "/home/照片/旅行 2024/长城.txt"))
        #expect(!FileManager.default.fileExists(atPath: past + "/home/new/file.txt"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: past + "/home/docs/readme.txt")) == Data(TestBytes.text(20_000, seed: 1)))

        // One path, and one older version by id.
        let one = tree.dir.file("one").path
        try setup.run(["restore", "--to", one, "home/docs"])
        #expect(try FileManager.default.subpathsOfDirectory(atPath: one + "/home").allSatisfy { $0.hasPrefix("docs") })
        let versions = try setup.run(["versions", "home/docs/readme.txt"]).stdoutText
        let ids = versions.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0.dropLast()) } }
        #expect(ids.count == 2, "\(versions)")
        let old = tree.dir.file("old").path
        try setup.run(["restore", "--to", old, "--version", String(ids[0])])
        #expect(try Data(contentsOf: URL(fileURLWithPath: old + "/home/docs/readme.txt")) == Data(TestBytes.text(20_000, seed: 1)))

        // Existing files are never overwritten without --overwrite.
        try setup.run(["restore", "--to", latest])
        try tree.dir.write("latest/home/docs/readme.txt", Array("local edit".utf8))
        try setup.run(["restore", "--to", latest, "home/docs"])
        #expect(try String(contentsOfFile: latest + "/home/docs/readme.txt", encoding: .utf8) == "local edit")
        try setup.run(["restore", "--to", latest, "--overwrite", "home/docs"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: latest + "/home/docs/readme.txt")) == Data(TestBytes.text(25_000, seed: 99)))

        // Verify at all depths.
        try setup.run(["verify"])
        try setup.run(["verify", "--stored"])
        try setup.run(["verify", "--deep"])
        let status = try setup.run(["status", "--json"])
        #expect(status.stdoutText.contains("\"status\":\"completed\""))
    }

    @Test func anUnchangedRunOpensNoSourceFile() throws {
        guard CommandRunner.exists("/usr/bin/strace") else {
            if TestData.isCI { Issue.record("strace is not installed") }
            return
        }
        let tree = try SourceTree(largeSize: 100_000)
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        try setup.run(["backup"])
        Thread.sleep(forTimeInterval: 1.1)  // past the race guard's window
        try setup.run(["backup"])
        let log = tree.dir.file("strace.log").path
        let traced = try CommandRunner.run(
            "/usr/bin/strace", ["-f", "-e", "trace=open,openat", "-o", log, CommandRunner.archiver, "backup", "--config", setup.config])
        #expect(traced.status == 0, "\(traced.stderr)")
        let opens = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains(tree.root.path) && !$0.contains("O_DIRECTORY") && !$0.contains("ENOENT") }
        #expect(opens.isEmpty, "an unchanged run opened source files: \(opens.prefix(5))")
    }

    @Test func anUnreadableFileIsRecordedAndTheRunGoesOn() throws {
        let tree = try SourceTree(largeSize: 10_000)
        try tree.dir.write("src/secret.txt", Array("no access".utf8))
        chmod(tree.root.path + "/secret.txt", 0o000)
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        // Root reads anything; run as nobody so the permission bites, the way a NAS share user would see it.
        var args = ["backup", "--config", setup.config]
        var program = CommandRunner.archiver
        if geteuid() == 0 {
            guard CommandRunner.exists("/usr/bin/setpriv") else { return }
            chmod(tree.dir.path, 0o777)
            for sub in try FileManager.default.subpathsOfDirectory(atPath: tree.dir.path) where !sub.hasSuffix("secret.txt") {
                chmod(tree.dir.path + "/" + sub, 0o777)
            }
            chmod(setup.config, 0o644)
            chmod(setup.key, 0o644)
            // A copy of the binary, so nobody can run it wherever the build folder lives.
            let binary = tree.dir.file("archiver-copy").path
            try FileManager.default.copyItem(atPath: CommandRunner.archiver, toPath: binary)
            chmod(binary, 0o755)
            args = ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + args
            program = "/usr/bin/setpriv"
        }
        let result = try CommandRunner.run(program, args)
        #expect(result.status == 3, "partial expected: \(result.stderr)")
        #expect(result.stderr.contains("secret.txt"))
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        #expect(FileManager.default.fileExists(atPath: restored + "/home/docs/readme.txt"))
        #expect(!FileManager.default.fileExists(atPath: restored + "/home/secret.txt"))
    }

    @Test func twoDisksRotatedBehindOneMountPointEachGetCompleteBackups() throws {
        let tree = try SourceTree(largeSize: 50_000)
        let mount = tree.dir.file("usb").path
        let setup = try Setup(tree: tree, backend: "local:\(mount)")
        try FileManager.default.removeItem(atPath: mount)
        let diskA = tree.dir.file("diskA").path
        let diskB = tree.dir.file("diskB").path
        for disk in [diskA, diskB] { try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true) }

        // Nothing mounted: the mount point is an empty folder, which is refused, not taken for an empty repository.
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let unmounted = try setup.run(["backup"], expect: 6)
        #expect(unmounted.stderr.contains("not mounted") || unmounted.stderr.contains("not an archiver repository"))
        try FileManager.default.removeItem(atPath: mount)

        try FileManager.default.createSymbolicLink(atPath: mount, withDestinationPath: diskA)
        try setup.run(["init"])
        try setup.run(["backup"])
        try tree.dir.write("src/docs/added.txt", Array("while disk B was away".utf8))
        try FileManager.default.removeItem(atPath: mount)
        try FileManager.default.createSymbolicLink(atPath: mount, withDestinationPath: diskB)
        try setup.run(["init"])
        try setup.run(["backup"])
        try FileManager.default.removeItem(atPath: mount)
        try FileManager.default.createSymbolicLink(atPath: mount, withDestinationPath: diskA)
        try setup.run(["backup"])
        for disk in [diskA, diskB] {
            try FileManager.default.removeItem(atPath: mount)
            try FileManager.default.createSymbolicLink(atPath: mount, withDestinationPath: disk)
            let restored = tree.dir.file("restored-\(URL(fileURLWithPath: disk).lastPathComponent)").path
            try setup.run(["restore", "--to", restored])
            try compareTrees(tree.root.path, restored + "/home")
        }
    }

    @Test func mockFaultsEndInAClearErrorAndNoCatalogRow() throws {
        let tree = try SourceTree(largeSize: 10_000)
        let store = tree.dir.file("mockstore").path
        let setup = try Setup(tree: tree, backend: "mock:\(store)?fail=put:3")
        try setup.run(["init"])
        let first = try setup.run(["backup"], expect: 3)
        #expect(first.stderr.contains("injected fault"), "\(first.stderr)")
        // The failed file has no catalog row, so the next run stores it; everything restores.
        try setup.writeConfig(backend: "mock:\(store)")
        try setup.run(["backup"])
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        try compareTrees(tree.root.path, restored + "/home")
    }

    @Test func aFileLargerThanTheLargestObjectIsStoredAsSegments() throws {
        let tree = try SourceTree(largeSize: 7 * 1024 * 1024 + 12345)
        let store = tree.dir.file("mockstore").path
        // Objects of at most 3 MB: the 7 MiB file becomes segments of whole MiBs, each a complete age file.
        let setup = try Setup(tree: tree, backend: "mock:\(store)?max_object_size=3000000")
        try setup.run(["init"])
        try setup.run(["backup"])
        let objects = try FileManager.default.subpathsOfDirectory(atPath: store).filter { $0.contains("/data/") && $0.hasSuffix(".age") }
        let sizes = try objects.map { try FileManager.default.attributesOfItem(atPath: store + "/" + $0)[.size] as? Int ?? 0 }
        #expect(sizes.allSatisfy { $0 <= 3_000_000 }, "\(sizes)")
        #expect(sizes.filter { $0 > 1_000_000 }.count >= 4, "expected the large file in several segments: \(sizes)")
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        try compareTrees(tree.root.path, restored + "/home")
        try setup.run(["verify", "--deep"])
    }

    @Test func mirrorNamingKeepsPathsReadableAndRestores() throws {
        let tree = try SourceTree(largeSize: 10_000)
        let setup = try Setup(tree: tree, extra: "naming: mirror")
        try setup.run(["init"])
        try setup.run(["backup"])
        let stored = try FileManager.default.subpathsOfDirectory(atPath: tree.dir.file("usb").path)
        #expect(stored.contains { $0.contains("/files/home/docs/readme.txt.v") && $0.hasSuffix(".gz.age") }, "\(stored)")
        #expect(stored.contains { $0.contains("/files/home/照片/") })
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        try compareTrees(tree.root.path, restored + "/home")
    }

    @Test func theDryRunMockKeepsNothing() throws {
        let tree = try SourceTree(largeSize: 10_000)
        let setup = try Setup(tree: tree, backend: "mock:")
        try setup.run(["init"])
        let result = try setup.run(["backup", "--json"])
        #expect(result.stdoutText.contains("\"stored\":"))
        #expect(result.stdoutText.contains("\"run\":null"))
    }

    @Test func restoreWithoutTheCatalogUsesTheNewestCopy() throws {
        let tree = try SourceTree(largeSize: 10_000)
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        try setup.run(["backup"])
        // The NAS is lost: no catalog, only the disk and the key.
        try FileManager.default.removeItem(atPath: tree.dir.file("state").path)
        let restored = tree.dir.file("restored").path
        let result = try setup.run(["restore", "--to", restored])
        #expect(result.stderr.contains("catalog copy"))
        try compareTrees(tree.root.path, restored + "/home")
    }

    @Test func aPlantedCatalogCopyIsRefused() throws {
        let tree = try SourceTree(largeSize: 10_000)
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        try setup.run(["backup"])
        try FileManager.default.removeItem(atPath: tree.dir.file("state").path)
        // Someone who knows only the public recipient plants a newer "catalog copy": valid age, wrong MAC.
        let usb = tree.dir.file("usb").path
        let repository = try #require(try FileManager.default.contentsOfDirectory(atPath: usb).first { $0.count == 36 })
        let catalogDir = "\(usb)/\(repository)/catalog"
        let genuine = try FileManager.default.contentsOfDirectory(atPath: catalogDir).filter { $0.hasSuffix(".sqlite.gz.age") }
        let fake = try tree.dir.write("fake.sqlite", Array("SQLite format 3\u{0}planted".utf8))
        let planted = "\(catalogDir)/29991231T000000.000Z.sqlite.gz.age"
        let made = try CommandRunner.archiver(["encrypt", "-r", setup.recipient, "--compress", "6", fake.path, "-o", planted])
        #expect(made.status == 0, "\(made.stderr)")
        try Array(String(repeating: "0", count: 64).utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: planted + ".mac")) }
        // The planted copy is passed over for the genuine one.
        let restored = tree.dir.file("restored").path
        let result = try setup.run(["restore", "--to", restored])
        #expect(result.stderr.contains(genuine[0]), "\(result.stderr)")
        try compareTrees(tree.root.path, restored + "/home")
        // With only the planted copy left, restore refuses it and says why.
        for name in genuine { try FileManager.default.removeItem(atPath: "\(catalogDir)/\(name)") }
        let refused = try setup.run(["restore", "--to", tree.dir.file("again").path], expect: 1)
        #expect(refused.stderr.contains("MAC does not verify"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tree.dir.file("again/home").path))
    }

    @Test func aFileThatKeepsChangingWhileReadIsRetriedThenReported() throws {
        let tree = try SourceTree(largeSize: 10_000)
        let growing = try tree.dir.write("src/growing.log", TestBytes.text(8 * 1024 * 1024))
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        // A writer appends to the file the whole time the backup runs, as a log being written would.
        let stop = StopFlag()
        let writer = Thread {
            let handle = try? FileHandle(forWritingTo: growing)
            while !stop.isSet {
                _ = try? handle?.seekToEnd()
                try? handle?.write(contentsOf: Data("another log line\n".utf8))
                usleep(200)
            }
            try? handle?.close()
        }
        writer.start()
        let changing = try setup.run(["backup"], expect: 3)
        stop.set()
        #expect(changing.stderr.contains("growing.log"), "\(changing.stderr)")
        #expect(changing.stderr.contains("kept changing while it was read"), "\(changing.stderr)")
        Thread.sleep(forTimeInterval: 0.2)
        // Once it is quiet, the next run stores it, and it restores as it is now.
        try setup.run(["backup"])
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        try compareTrees(tree.root.path, restored + "/home")
    }
}

private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
