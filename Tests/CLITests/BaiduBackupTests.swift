import ArchiverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A source tree, a config for the Baidu backend pointed at a fake Baidu on 127.0.0.1, and a logged-in token file.
///
/// Slices are 64 KiB (the fake and the config agree), so a file of a few hundred KiB has many slices and tests of
/// slices, resume and segments take seconds.
struct BaiduSetup {
    static let sliceSize = 64 * 1024
    let fake: FakeBaidu
    let setup: Setup
    var tree: SourceTree { setup.tree }
    var tokenFile: String { tree.dir.file("baidu-token.json").path }
    var config: String { setup.config }

    init(
        tree: SourceTree, fakeArguments: [String] = [], compression: String = "auto", extra: String = "",
        baiduExtra: String = "", naming: String = "opaque", login: Bool = true
    ) throws {
        fake = try FakeBaidu.start(
            ["--slice-size", String(Self.sliceSize), "--auto-approve", "--device-interval", "1"] + fakeArguments)
        let baidu = """
            naming: \(naming)
            baidu:
              app_name: e2bdy
              app_key: test-app-key
              secret_key: test-secret-key
              token_file: \(tree.dir.file("baidu-token.json").path)
              upload_concurrency: 2
              slice_size: \(Self.sliceSize)
              \(baiduExtra)
              endpoints:
                oauth: \(fake.url)
                api: \(fake.url)
                upload: \(fake.url)
            \(extra)
            """
        setup = try Setup(tree: tree, backend: "baidu:", compression: compression, extra: baidu)
        chmod(setup.config, 0o600)
        if login {
            let result = try run(["auth", "baidu"])
            #expect(result.stdoutText.contains("user code") || result.stdoutText.contains("code"), "\(result.stdoutText)")
        }
    }

    /// Runs archiver with fast retries, expecting `status`.
    @discardableResult
    func run(_ args: [String], expect status: Int32 = 0, _ comment: String = "") throws -> CommandResult {
        let result = try CommandRunner.archiver(
            args + ["--config", config], environment: ["ARCHIVER_BAIDU_RETRY_SCALE": "0.01"])
        #expect(result.status == status, "archiver \(args.joined(separator: " ")) \(comment): \(result.stderr)")
        return result
    }

    /// Starts `archiver backup` in the background.
    func startBackup() throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.archiver)
        process.arguments = ["backup", "--config", config]
        var environment = ProcessInfo.processInfo.environment
        environment["ARCHIVER_BAIDU_RETRY_SCALE"] = "0.01"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits until the fake's counter reaches `count` (or the process ends), then kills the process with SIGKILL.
    func kill(_ process: Process, when counter: String, reaches count: Int) throws {
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline, (try fake.stats()[counter] ?? 0) < count {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(process.isRunning, "the backup finished before it could be killed")
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Waits until the fake's counter reaches `count` while the process runs.
    func wait(until counter: String, reaches count: Int, while process: Process) throws {
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline, (try fake.stats()[counter] ?? 0) < count {
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// Runs a backup and kills it after Baidu created a file larger than `size` and before the catalog recorded it.
    /// Slices are slowed so the create fault can be armed once the folders exist and the slices flow; the create is
    /// then carried out and its answer waits: the kill lands after Baidu has the file and before the catalog knows it.
    func killBackupBetweenCreateAndCommit(largerThan size: Int) throws {
        // Slow slices keep the run away from `create` until the fault is in place (mkdir also calls `create`, so
        // the fault cannot be installed before the run starts); the slices take at least a second and a half.
        _ = try fake.control("faults", ["endpoint": "superfile2", "error": "slow:500", "count": 100])
        // Counted from this run only: `init` already sent a slice (the marker), and a fault installed before the
        // run's first slice would meet the folder `create` (mkdir) instead of the file's.
        _ = try fake.control("reset-stats", [:])
        let process = try startBackup()
        try wait(until: "superfile2", reaches: 1, while: process)
        _ = try fake.control("faults", ["endpoint": "create", "error": "late:20000", "count": 1])
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline {
            let files = try #require(try fake.control("files") as? [[String: Any]])
            if files.contains(where: { ($0["size"] as? Int ?? 0) > size }) { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(process.isRunning, "the backup finished before it could be killed")
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = try fake.control("clear-faults", [:])
    }

    func restoreAndCompare(excluding: Set<String> = []) throws {
        let out = tree.dir.file("restored").path
        try? FileManager.default.removeItem(atPath: out)
        try run(["restore", "--to", out])
        try compareTrees(tree.root.path, out + "/home", ignoring: excluding)
    }
}

@Suite("Backups to Baidu Netdisk (a fake on 127.0.0.1)", .serialized)
struct BaiduBackupTests {
    @Test func loginBackupAndRestoreWithAwkwardNames() throws {
        let tree = try SourceTree(largeSize: 5 * BaiduSetup.sliceSize + 1234)
        for name in [".leading-dot", "trailing-dot.", " leading space", "colon:question?.txt", "star*pipe|.txt", "emoji 🎬.mkv"] {
            try tree.dir.write("src/awkward/\(name)", TestBytes.text(2_000, seed: UInt64(name.utf8.count)))
        }
        let baidu = try BaiduSetup(tree: tree, naming: "mirror")
        let mode = try FileManager.default.attributesOfItem(atPath: baidu.tokenFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try baidu.run(["init"])
        try baidu.run(["backup"])
        let stats = try baidu.fake.stats()
        #expect((stats["superfile2"] ?? 0) >= 6, "the large file alone has six slices")
        try baidu.restoreAndCompare()
        // A second run finds nothing to upload.
        try baidu.fake.control("reset-stats", [:])
        try baidu.run(["backup"])
        #expect(try baidu.fake.stats()["superfile2"] == 0)
    }
}

extension BaiduBackupTests {
    @Test func anUnencryptedFileAlreadyInTheAccountIsARapidUploadHit() throws {
        let tree = try SourceTree(largeSize: 3 * BaiduSetup.sliceSize + 99)
        let baidu = try BaiduSetup(tree: tree, compression: "0", extra: "encryption: false")
        try baidu.run(["init"])
        // The same bytes already sit elsewhere in the account (uploaded by another tool).
        _ = try baidu.fake.control("put", ["path": "/apps/e2bdy/elsewhere/video.bin", "source": tree.root.path + "/big/video.bin"])
        try baidu.fake.control("reset-stats", [:])
        try baidu.run(["backup"])
        let stats = try baidu.fake.stats()
        #expect((stats["rapid_hits"] ?? 0) >= 1)
        #expect((stats["bytes_received"] ?? 0) < 3 * BaiduSetup.sliceSize, "the large file's slices were sent anyway")
        try baidu.restoreAndCompare()
    }

    @Test func aKilledUploadResumesAndSendsOnlyTheMissingSlices() throws {
        let slices = 40
        let tree = try SourceTree(largeSize: slices * BaiduSetup.sliceSize - 100)
        let baidu = try BaiduSetup(tree: tree, compression: "0")
        try baidu.run(["init"])
        // Slow every slice down so the kill lands mid-file.
        _ = try baidu.fake.control("faults", ["endpoint": "superfile2", "error": "slow:60", "count": 1000])
        let process = try baidu.startBackup()
        try baidu.kill(process, when: "superfile2", reaches: 15)
        let before = try baidu.fake.stats()["superfile2"] ?? 0
        _ = try baidu.fake.control("clear-faults", [:])
        try baidu.run(["backup"])
        let sent = (try baidu.fake.stats()["superfile2"] ?? 0) - before
        let smallFiles = 12  // each small file and the catalog copy are one slice
        #expect(sent <= slices - before + 2 + smallFiles, "the rerun sent \(sent) slices after \(before) had arrived")
        #expect(sent < slices, "the rerun started the large file over")
        try baidu.restoreAndCompare()
    }

    @Test func anExpiredAccessTokenIsRefreshedOnceAndTheNewPairKept() throws {
        let tree = try SourceTree(largeSize: 2 * BaiduSetup.sliceSize)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        let before = try String(contentsOfFile: baidu.tokenFile, encoding: .utf8)
        _ = try baidu.fake.control("expire-access-tokens", [:])
        try baidu.run(["backup"])
        let after = try String(contentsOfFile: baidu.tokenFile, encoding: .utf8)
        #expect(before != after, "the refreshed pair was not written")
        #expect(try baidu.fake.stats()["refresh"] == 1)
        try baidu.restoreAndCompare()
    }

    @Test func aRefreshTokenUsedTwiceMeansLoginNeeded() throws {
        let tree = try SourceTree(largeSize: 1000)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        let stale = try Data(contentsOf: URL(fileURLWithPath: baidu.tokenFile))
        _ = try baidu.fake.control("expire-access-tokens", [:])
        try baidu.run(["backup"])  // refreshes: the refresh token in `stale` is now spent
        try stale.write(to: URL(fileURLWithPath: baidu.tokenFile))
        _ = try baidu.fake.control("expire-access-tokens", [:])
        try tree.dir.write("src/new.txt", TestBytes.text(500, seed: 9))
        let refused = try baidu.run(["backup"], expect: 9)
        #expect(refused.stderr.contains("archiver auth baidu --config \(baidu.config)"), "\(refused.stderr)")
        let status = try baidu.run(["status", "--json"], expect: 9)
        #expect(status.stdoutText.contains("login_needed"))
        // One refresh succeeded (the first backup's); the refused one was not retried.
        #expect(try baidu.fake.stats()["refresh"] == 1)
        // Logging in again clears the state, and nothing was recorded that is not stored.
        try baidu.run(["auth", "baidu"])
        try baidu.run(["backup"])
        try baidu.run(["status"])
        try baidu.restoreAndCompare()
        try baidu.run(["verify", "--deep"])
    }

    @Test func a31034StormIsSurvived() throws {
        let tree = try SourceTree(largeSize: 4 * BaiduSetup.sliceSize)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        _ = try baidu.fake.control("faults", ["endpoint": "superfile2", "error": 31034, "count": 6])
        _ = try baidu.fake.control("faults", ["endpoint": "precreate", "error": 31034, "count": 3])
        try baidu.run(["backup"])
        try baidu.restoreAndCompare()
    }

    @Test func aFullNetdiskStopsTheRunCleanlyAndTheNextRunCatchesUp() throws {
        let tree = try SourceTree(largeSize: 8 * BaiduSetup.sliceSize)
        let baidu = try BaiduSetup(tree: tree, fakeArguments: ["--quota", String(300 * 1024)])
        try baidu.run(["init"])
        let full = try baidu.run(["backup"], expect: 8)
        #expect(full.stderr.lowercased().contains("full") || full.stderr.contains("quota"), "\(full.stderr)")
        _ = try baidu.fake.control("config", ["quota_total": 1 << 30])
        try baidu.run(["backup"])
        try baidu.restoreAndCompare()
        try baidu.run(["verify", "--stored"])
        try baidu.run(["verify", "--deep"])
    }

    @Test func aFileOverTheTierCapIsStoredAsSegments() throws {
        let tree = try SourceTree(largeSize: 3 * 1024 * 1024 + 5)
        let baidu = try BaiduSetup(
            tree: tree, fakeArguments: ["--max-file-size", String(1 << 20)], compression: "0",
            baiduExtra: "max_object_size: 1MiB")
        try baidu.run(["init"])
        try baidu.run(["backup"])
        let files = try #require(try baidu.fake.control("files") as? [[String: Any]])
        #expect(files.allSatisfy { ($0["size"] as? Int ?? 0) <= 1 << 20 })
        #expect(files.filter { ($0["size"] as? Int ?? 0) > 900_000 }.count >= 3)
        try baidu.restoreAndCompare()
    }
}

extension BaiduBackupTests {
    @Test func aRunKilledBetweenCreateAndTheCatalogCommitAdoptsTheObjectAndSendsNothing() throws {
        let tree = try SourceTree(onlyLarge: 6 * BaiduSetup.sliceSize + 7)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        try baidu.fake.control("reset-stats", [:])
        try baidu.killBackupBetweenCreateAndCommit(largerThan: 6 * BaiduSetup.sliceSize)
        let slicesBefore = try baidu.fake.stats()["superfile2"] ?? 0
        #expect(slicesBefore == 7)
        try baidu.run(["backup"])
        let stats = try baidu.fake.stats()
        // The rerun sends only the catalog copy (and its MAC) written at its end; the file itself sends nothing.
        let files = try #require(try baidu.fake.control("files") as? [[String: Any]])
        let copySlices = files.filter { ($0["path"] as? String ?? "").contains("/catalog/") }.map {
            (($0["size"] as? Int ?? 0) + BaiduSetup.sliceSize - 1) / BaiduSetup.sliceSize
        }.reduce(0, +)
        #expect(copySlices > 0)
        #expect((stats["superfile2"] ?? 0) - slicesBefore == copySlices, "the rerun uploaded the file again")
        #expect(files.filter { ($0["size"] as? Int ?? 0) > 6 * BaiduSetup.sliceSize }.count == 1, "a second copy was made")
        try baidu.restoreAndCompare()
    }

    @Test func aFileChangedBetweenThePassesIsNotCommitted() throws {
        let tree = try SourceTree(onlyLarge: 30 * BaiduSetup.sliceSize)
        let baidu = try BaiduSetup(tree: tree, compression: "0")
        try baidu.run(["init"])
        // Hold the upload between precreate and its first slice, so the file changes after pass 1 and before pass 2
        // reads it; size and mtime are put back.
        _ = try baidu.fake.control("faults", ["endpoint": "locateupload", "error": "slow:1500", "count": 1])
        let path = tree.root.path + "/big/video.bin"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let process = try baidu.startBackup()
        try baidu.wait(until: "precreate", reaches: 1, while: process)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 5 * UInt64(BaiduSetup.sliceSize))
        handle.write(Data(repeating: 0x5A, count: 1000))
        try handle.close()
        try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: path)
        process.waitUntilExit()
        // The changed file was caught (by the slice check or by the changed ctime) and stored again, consistently.
        #expect((try baidu.fake.stats()["create"] ?? 0) >= 1)
        try baidu.restoreAndCompare()
    }
}

extension BaiduBackupTests {
    @Test func anUploadWritesNoTemporaryCopyToDisk() throws {
        guard CommandRunner.exists("/usr/bin/strace") else { return }
        let tree = try SourceTree(onlyLarge: 20 * BaiduSetup.sliceSize + 3)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        let log = tree.dir.file("strace.log").path
        let traced = try CommandRunner.run(
            "/usr/bin/strace",
            ["-f", "-e", "trace=open,openat,creat", "-o", log, CommandRunner.archiver, "backup", "--config", baidu.config],
            environment: ["ARCHIVER_BAIDU_RETRY_SCALE": "0.01"])
        #expect(traced.status == 0, "\(traced.stderr)")
        #expect((try baidu.fake.stats()["superfile2"] ?? 0) >= 21)
        // Files created for writing: only the catalog's own (its folder: database, WAL, lock, the catalog copy's
        // scratch) and the token file's lock, never anything sized by the file being uploaded.
        let state = tree.dir.file("state").path
        let created = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains("O_CREAT") && !$0.contains("ENOENT") }
            .filter { !$0.contains("\"\(state)/") && !$0.contains("\"\(baidu.tokenFile)") && !$0.contains("\"/dev/") }
        #expect(created.isEmpty, "files created during the upload: \(created.prefix(5))")
    }
}
