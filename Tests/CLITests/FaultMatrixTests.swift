import ArchiverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Faults armed on the Baidu fake (`/__fake/faults`) before a command runs.
struct BaiduFaults: Sendable, CustomTestStringConvertible {
    /// One armed fault: the endpoint, the fake's `error` value, how many calls it hits.
    struct Arm: Sendable {
        var endpoint: String
        var error: String
        var count: Int
    }

    var testDescription: String
    var arms: [Arm]

    init(_ description: String, _ arms: [(String, String, Int)]) {
        testDescription = description
        self.arms = arms.map { Arm(endpoint: $0.0, error: $0.1, count: $0.2) }
    }

    func arm(on fake: FakeBaidu) throws {
        for arm in arms {
            try fake.control("faults", ["endpoint": arm.endpoint, "error": arm.error, "count": arm.count])
        }
    }

    /// Faults a backup rides out: retried, refreshed or started over, and the run succeeds.
    static let transientUpload: [BaiduFaults] = [
        BaiduFaults(
            "a 31034 storm on precreate, superfile2 and create",
            [("precreate", "31034", 4), ("superfile2", "31034", 6), ("create", "31034", 3)]),
        BaiduFaults("HTTP 503 on superfile2, precreate and create", [("superfile2", "http:503", 3), ("precreate", "http:503", 2), ("create", "http:502", 2)]),
        BaiduFaults("HTTP 500 on every endpoint, token and account calls included", [("any", "http:500", 5)]),
        BaiduFaults(
            "connections reset before the answer's body (slices, precreate, create)",
            [("superfile2", "reset", 2), ("precreate", "reset", 1), ("create", "reset", 1)]),
        BaiduFaults("answers lost after the call was carried out (slices, create)", [("superfile2", "lost", 2), ("create", "lost", 1)]),
        BaiduFaults(
            "a create that lands while its answer says the session is gone (31355)", [("create_file", "done:31355", 1)]),
        BaiduFaults("an upload session that expires between slices", [("superfile2", "expire_session", 1)]),
        BaiduFaults("an access token that expires mid-run (PCS 111, xpan -6)", [("superfile2", "expire_token", 1), ("create", "expire_token", 1)]),
    ]

    /// Faults a restore (and `verify --deep`) rides out.
    static let transientDownload: [BaiduFaults] = [
        BaiduFaults("a download reset half-way through its body", [("download", "reset", 2)]),
        BaiduFaults("HTTP 503 and 31034 on the download path", [("download", "http:503", 2), ("filemetas", "31034", 3)]),
        BaiduFaults("an access token that expires during a restore", [("filemetas", "expire_token", 1)]),
    ]
}

/// The fault matrix of docs/reliability.md: every fault the Baidu fake, the mock and the disks can inject ends
/// in success after retries or in a clear error with an exit status, and nothing is recorded that is not stored:
/// once the fault is gone, a rerun completes, restore equals the source and `verify --deep` passes.
@Suite("Fault matrix", .serialized)
struct FaultMatrixTests {
    /// The end of every case: a backup with the fault gone completes, the restore equals the source, and every
    /// recorded object is stored with its size and hash and decrypts to its plaintext.
    static func recovers(_ run: ([String], Int32) throws -> CommandResult, restore: () throws -> Void) throws {
        _ = try run(["backup"], 0)
        try restore()
        _ = try run(["verify", "--stored"], 0)
        _ = try run(["verify", "--deep"], 0)
    }

    @Test(arguments: BaiduFaults.transientUpload)
    func aBaiduUploadFaultIsRiddenOut(_ faults: BaiduFaults) throws {
        let tree = try SourceTree(largeSize: 5 * BaiduSetup.sliceSize + 123)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        try faults.arm(on: baidu.fake)
        try baidu.run(["backup"], faults.testDescription)
        try baidu.fake.control("clear-faults", [:])
        // Retries stored nothing twice: every data object on the account is one the catalog records.
        let files = try #require(try baidu.fake.control("files") as? [[String: Any]])
        let stored = Set(files.compactMap { $0["path"] as? String }.filter { $0.contains("/data/") })
        let catalog = baidu.tree.dir.file("state/catalog.sqlite").path
        let recorded = try CommandRunner.run("/usr/bin/sqlite3", [catalog, "SELECT '/apps/e2bdy/' || name FROM objects"])
        #expect(stored == Set(recorded.stdoutText.split(separator: "\n").map(String.init)), "\(faults.testDescription)")
        try baidu.restoreAndCompare()
        try Self.recovers({ try baidu.run($0, expect: $1, faults.testDescription) }, restore: { try baidu.restoreAndCompare() })
    }

    @Test(arguments: BaiduFaults.transientDownload)
    func aBaiduDownloadFaultIsRiddenOut(_ faults: BaiduFaults) throws {
        let tree = try SourceTree(largeSize: 5 * BaiduSetup.sliceSize + 123)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        try baidu.run(["backup"])
        try faults.arm(on: baidu.fake)
        try baidu.restoreAndCompare()
        try faults.arm(on: baidu.fake)
        try baidu.run(["verify", "--deep"], expect: 0, faults.testDescription)
    }

    /// An upload kept for resuming whose name meanwhile holds other bytes (another client, a hand-made file) is
    /// stored under a new name: nothing is overwritten, and the file is not failed run after run.
    @Test func aNameTakenByOtherBytesIsReplacedByANewName() throws {
        let tree = try SourceTree(onlyLarge: 3 * BaiduSetup.sliceSize + 77)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        // Every file create fails past its retries: the run keeps the plan and the sent slices to resume.
        try baidu.fake.control("faults", ["endpoint": "create_file", "error": "http:500", "count": 100])
        try baidu.run(["backup"], expect: 3)
        try baidu.fake.control("clear-faults", [:])
        let catalog = baidu.tree.dir.file("state/catalog.sqlite").path
        let pending = try CommandRunner.run("/usr/bin/sqlite3", [catalog, "SELECT object_name FROM pending_uploads"])
        let planned = try #require(pending.stdoutText.split(separator: "\n").first.map(String.init))
        let foreign = try baidu.tree.dir.write("foreign.bin", TestBytes.random(5000, seed: 9))
        try baidu.fake.control("put", ["path": "/apps/e2bdy/\(planned)", "source": foreign.path])

        try baidu.run(["backup"])
        let recorded = try CommandRunner.run("/usr/bin/sqlite3", [catalog, "SELECT name FROM objects"])
        #expect(!recorded.stdoutText.contains(planned), "the taken name is not recorded")
        try baidu.restoreAndCompare()
        // The other bytes are still there, untouched.
        let files = try #require(try baidu.fake.control("files") as? [[String: Any]])
        let kept = try #require(files.first { ($0["path"] as? String) == "/apps/e2bdy/\(planned)" })
        #expect(kept["size"] as? Int == 5000)
    }

    @Test func aSlowServerPastTheDeadlineIsRetried() throws {
        let tree = try SourceTree(largeSize: 3 * BaiduSetup.sliceSize + 5)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        // Deadlines scaled to 1/20: 1.5 s for API calls, 3 s for a slice; the fake answers 5 s late, twice each.
        try BaiduFaults("slow", [("superfile2", "slow:5000", 2), ("precreate", "slow:5000", 1)]).arm(on: baidu.fake)
        let slow = try CommandRunner.archiver(
            ["backup", "--config", baidu.config],
            environment: ["ARCHIVER_BAIDU_RETRY_SCALE": "0.01", "ARCHIVER_BAIDU_TIMEOUT_SCALE": "0.05"])
        #expect(slow.status == 0, "\(slow.stderr)")
        // The late answers were given up on at the deadline and the calls retried.
        #expect(slow.stderr.contains("Baidu superfile2: no answer ("), "\(slow.stderr)")
        #expect(slow.stderr.contains("Baidu precreate: no answer ("), "\(slow.stderr)")
        try Self.recovers({ try baidu.run($0, expect: $1) }, restore: { try baidu.restoreAndCompare() })
    }

    @Test func aBaiduFaultThatDoesNotClearEndsInAClearErrorAndNothingRecorded() throws {
        let tree = try SourceTree(largeSize: 3 * BaiduSetup.sliceSize + 5)
        let baidu = try BaiduSetup(tree: tree)
        try baidu.run(["init"])
        try BaiduFaults("503 forever", [("superfile2", "http:503", 100_000)]).arm(on: baidu.fake)
        let failed = try baidu.run(["backup", "--json"], expect: 3)
        // Each file names the slice and object that could not go up, and Baidu's answer (503 comes as 31212).
        #expect(failed.stderr.contains("cannot upload slice 1 of object"), "\(failed.stderr)")
        #expect(failed.stderr.contains("Baidu superfile2 failed: error_code 31212"), "\(failed.stderr)")
        #expect(failed.stdoutText.contains("\"stored\":0"), "\(failed.stdoutText)")
        try baidu.fake.control("clear-faults", [:])
        // Nothing was recorded for the files that failed: verify finds no object the catalog claims and lacks.
        try baidu.run(["verify"])
        try Self.recovers({ try baidu.run($0, expect: $1) }, restore: { try baidu.restoreAndCompare() })
    }
}
