import ArchiverTestSupport
import Foundation
import Testing

/// Runs on simulated days: `ARCHIVER_TEST_NOW` (a test-only hook, see docs/retention.md) sets the time the catalog
/// records runs at and the time `forget` counts `deleted_days` from.
struct SimulatedDays {
    let setup: Setup

    static func time(day: Int, hour: Int) -> String {
        String(format: "2030-01-%02dT%02d:00:00Z", day, hour)
    }

    @discardableResult
    func run(_ args: [String], at time: String, expect status: Int32 = 0) throws -> CommandResult {
        let result = try CommandRunner.archiver(
            args + ["--config", setup.config], environment: ["ARCHIVER_TEST_NOW": time])
        #expect(result.status == status, "archiver \(args.joined(separator: " ")) at \(time): \(result.stderr)")
        return result
    }

    /// The ids of a path's versions, from `archiver versions`.
    func versionIDs(_ path: String) throws -> [Int] {
        let result = try CommandRunner.archiver(["versions", path, "--config", setup.config])
        guard result.status == 0 else { return [] }
        return result.stdoutText.split(separator: "\n").compactMap {
            $0.split(separator: " ").dropFirst().first.flatMap { Int($0.dropLast()) }
        }
    }
}

/// The object files under a target folder (`<id>/data/...` or `<id>/files/...`), not markers or catalog copies.
func storedObjects(_ root: String) -> Set<String> {
    let all = (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []
    return Set(
        all.filter { path in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory)
            return !isDirectory.boolValue && (path.contains("/data/") || path.contains("/files/"))
        })
}

/// The object files the Baidu fake holds (not markers or catalog copies).
func fakeObjects(_ fake: FakeBaidu) throws -> Set<String> {
    let files = try fake.control("files") as? [[String: Any]] ?? []
    return Set(files.compactMap { $0["path"] as? String }.filter { $0.contains("/data/") || $0.contains("/files/") })
}

/// The last line of stdout as a JSON object.
func lastJSON(_ result: CommandResult) -> [String: Any] {
    let line = result.stdoutText.split(separator: "\n").last.map(String.init) ?? ""
    return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
}

@Suite(.serialized) struct RetentionTests {
    /// Six simulated days, two runs a day, `keep: {last: 2, daily: 3, deleted_days: 5}`.
    @Test func aPolicyOverSeveralDaysKeepsWhatItSaysAndTheDedupGuardHolds() throws {
        let tree = try SourceTree(onlyLarge: 3_000)
        let shared = TestBytes.text(4_000, seed: 77)
        try tree.dir.write("src/c-copy.txt", shared)
        try tree.dir.write("src/b.txt", TestBytes.text(2_000, seed: 55))
        let setup = try Setup(
            tree: tree, extra: "timezone: UTC\nkeep: {last: 2, daily: 3, deleted_days: 5}")
        let days = SimulatedDays(setup: setup)
        try days.run(["init"], at: SimulatedDays.time(day: 1, hour: 8))
        for day in 1...6 {
            for (run, hour) in [9, 18].enumerated() {
                try tree.dir.write("src/a.txt", Array("a on day \(day) run \(run)".utf8))
                // c.txt starts as c-copy.txt's bytes: its first version shares c-copy's content (deduplicated).
                try tree.dir.write(
                    "src/c.txt", day == 1 && run == 0 ? shared : Array("c on day \(day) run \(run)".utf8))
                if day == 3 && run == 0 { try FileManager.default.removeItem(atPath: tree.root.path + "/b.txt") }
                try days.run(["backup"], at: SimulatedDays.time(day: day, hour: hour))
            }
        }
        let usb = tree.dir.file("usb").path
        #expect(try days.versionIDs("home/a.txt").count == 12)
        let before = storedObjects(usb)
        let now = SimulatedDays.time(day: 6, hour: 20)

        // A dry run lists and counts, and changes nothing.
        let dry = try days.run(["forget", "--dry-run"], at: now)
        #expect(dry.stdoutText.contains("would forget home/a.txt version"), "\(dry.stdoutText)")
        let dryJSON = lastJSON(try days.run(["forget", "--dry-run", "--json"], at: now))
        #expect(dryJSON["versions"] as? Int == 16, "\(dryJSON)")
        #expect(dryJSON["objects"] as? Int == 15, "\(dryJSON)")
        #expect(try days.versionIDs("home/a.txt").count == 12)
        #expect(storedObjects(usb) == before)

        // a.txt keeps the last two (day 6) and the newest of days 5 and 4; c.txt likewise. c.txt's first version
        // goes, but its content stays: c-copy.txt still uses it.
        let aBefore = try days.versionIDs("home/a.txt")
        let summary = lastJSON(try days.run(["forget", "--json"], at: now))
        #expect(summary["versions"] as? Int == 16, "\(summary)")
        #expect(summary["objects"] as? Int == 15, "\(summary)")
        let aAfter = try days.versionIDs("home/a.txt")
        // Runs are ids in time order: day 4 evening, day 5 evening, day 6 morning and evening.
        #expect(aAfter == [aBefore[7], aBefore[9], aBefore[10], aBefore[11]], "\(aBefore) → \(aAfter)")
        #expect(try days.versionIDs("home/c.txt").count == 4)
        #expect(before.subtracting(storedObjects(usb)).count == 15)
        #expect(storedObjects(usb).isSubset(of: before))
        // The deleted b.txt is 3 days gone: its last version stays.
        #expect(try days.versionIDs("home/b.txt").count == 1)
        // Every recorded object is still there, and the current state restores exactly.
        try days.run(["verify"], at: now)
        let restored = tree.dir.file("restored").path
        try days.run(["restore", "--to", restored], at: now)
        try compareTrees(tree.root.path, restored + "/home")
        // An older kept version restores too.
        let old = tree.dir.file("old").path
        try days.run(["restore", "--to", old, "--version", String(aAfter[0])], at: now)
        #expect(try String(contentsOfFile: old + "/home/a.txt", encoding: .utf8) == "a on day 4 run 1")

        // Nothing more to drop the same day; nine days on, the deleted file is past deleted_days and goes.
        #expect(lastJSON(try days.run(["forget", "--json"], at: now))["versions"] as? Int == 0)
        let later = lastJSON(try days.run(["forget", "--json"], at: SimulatedDays.time(day: 9, hour: 12)))
        #expect(later["versions"] as? Int == 1, "\(later)")
        #expect(try days.versionIDs("home/b.txt").isEmpty)
        try days.run(["verify"], at: now)
    }

    @Test func aFailedDeleteKeepsTheRowsAndTheNextPassRetries() throws {
        let tree = try SourceTree(onlyLarge: 2_000)
        let store = tree.dir.file("mock").path
        let setup = try Setup(tree: tree, backend: "mock:\(store)", extra: "keep: {last: 1}")
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        let days = SimulatedDays(setup: setup)
        try days.run(["init"], at: SimulatedDays.time(day: 1, hour: 8))
        for day in 1...3 {
            try tree.dir.write("src/a.txt", Array("a on day \(day)".utf8))
            try days.run(["backup"], at: SimulatedDays.time(day: day, hour: 9))
        }
        let before = storedObjects(store)
        try setup.writeConfig(backend: "mock:\(store)?fail=delete:1", extra: "keep: {last: 1}")
        let failed = try days.run(["forget"], at: SimulatedDays.time(day: 3, hour: 10), expect: 3)
        #expect(failed.stderr.contains("FAILED to delete"), "\(failed.stderr)")
        #expect(before.subtracting(storedObjects(store)).count == 1)
        try setup.writeConfig(backend: "mock:\(store)", extra: "keep: {last: 1}")
        #expect(try days.versionIDs("home/a.txt").count == 2, "the version whose object stayed is still recorded")
        let retried = lastJSON(try days.run(["forget", "--json"], at: SimulatedDays.time(day: 3, hour: 11)))
        #expect(retried["objects"] as? Int == 1, "\(retried)")
        #expect(try days.versionIDs("home/a.txt").count == 1)
        #expect(before.subtracting(storedObjects(store)).count == 2)
        try days.run(["verify"], at: SimulatedDays.time(day: 3, hour: 11))
    }

    @Test func theDaemonForgetsAfterItsRun() throws {
        let tree = try SourceTree(onlyLarge: 2_000)
        let setup = try Setup(tree: tree, extra: "keep: {last: 1}\nschedule: \"0 3 * * *\"\nshutdown_timeout: 2s")
        try setup.run(["init"])
        try tree.dir.write("src/a.txt", Array("first".utf8))
        try setup.run(["backup"])
        try tree.dir.write("src/a.txt", Array("second".utf8))
        let log = tree.dir.file("daemon.log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: CommandRunner.archiver)
        daemon.arguments = ["daemon", "--config", setup.config, "--nice", "0", "--io-priority", "normal"]
        daemon.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try daemon.run()
        let deadline = Date().addingTimeInterval(60)
        while daemon.isRunning, Date() < deadline,
            !((try? String(contentsOfFile: log, encoding: .utf8))?.contains("next run at") ?? false)
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
        daemon.terminate()
        daemon.waitUntilExit()
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("forgot 1 versions"), "\(text)")
        #expect(try SimulatedDays(setup: setup).versionIDs("home/a.txt").count == 1)
    }

    @Test func forgetOnBaiduDeletesThroughTheRecycleBin() throws {
        let tree = try SourceTree(onlyLarge: 2 * BaiduSetup.sliceSize)
        let baidu = try BaiduSetup(tree: tree, extra: "keep: {last: 1}")
        try baidu.run(["init"])
        for round in 1...3 {
            try tree.dir.write("src/a.txt", Array("a in round \(round)".utf8))
            try baidu.run(["backup"])
        }
        let before = try fakeObjects(baidu.fake)
        let dry = try baidu.run(["forget", "--dry-run"])
        #expect(dry.stdoutText.contains("would forget home/a.txt"), "\(dry.stdoutText)")
        #expect(try fakeObjects(baidu.fake) == before)
        let result = try baidu.run(["forget"])
        #expect(result.stderr.contains("recycle bin"), "\(result.stderr)")
        let after = try fakeObjects(baidu.fake)
        #expect(before.subtracting(after).count == 2 && after.isSubset(of: before), "\(before) → \(after)")
        let ids = try baidu.run(["versions", "home/a.txt"]).stdoutText.split(separator: "\n")
        #expect(ids.count == 1)
        try baidu.run(["verify"])
        try baidu.restoreAndCompare()
    }
}
