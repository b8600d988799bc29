import ArchiverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon as a container runs it: a run at start, then the schedule; SIGTERM ends it with status 0 within
/// `shutdown_timeout`, and what was finished stays recorded.
@Suite("Daemon", .serialized)
struct DaemonTests {
    /// Starts `archiver daemon` with stderr captured in a file.
    private func startDaemon(_ config: String, log: String, arguments: [String] = []) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.archiver)
        process.arguments = ["daemon", "--config", config, "--nice", "0", "--io-priority", "normal"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["ARCHIVER_BAIDU_RETRY_SCALE"] = "0.01"
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    private func waitFor(_ text: String, in log: String, while process: Process, seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, process.isRunning {
            if let data = FileManager.default.contents(atPath: log), String(decoding: data, as: UTF8.self).contains(text) {
                return true
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return (try? String(contentsOfFile: log, encoding: .utf8))?.contains(text) ?? false
    }

    /// Sends SIGTERM and returns the exit status and how long the exit took.
    private func terminate(_ process: Process) -> (status: Int32, seconds: Double) {
        let sent = Date()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return (process.terminationStatus, Date().timeIntervalSince(sent))
    }

    @Test func runsAtStartThenWaitsAndStopsAtOnceWhenIdle() throws {
        let tree = try SourceTree(largeSize: 10_000)
        let setup = try Setup(tree: tree, extra: "schedule: \"0 3 * * *\"\ntimezone: Asia/Shanghai\nshutdown_timeout: 2s")
        try setup.run(["init"])
        let log = tree.dir.file("daemon.log").path
        let daemon = try startDaemon(setup.config, log: log)
        #expect(waitFor("next run at", in: log, while: daemon), "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let (status, seconds) = terminate(daemon)
        #expect(status == 0)
        #expect(seconds < 2)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("completed"))
        #expect(text.contains("+08:00") || text.contains("CST") || text.contains("Asia/Shanghai"), "\(text)")
        try setup.run(["status"])
    }

    @Test func sigtermDuringASlowUploadExitsZeroWithinTheBoundAndLosesNothing() throws {
        let tree = try SourceTree(onlyLarge: 60 * BaiduSetup.sliceSize)
        for index in 0..<20 { try tree.dir.write("src/small/f\(index).txt", TestBytes.text(3_000, seed: UInt64(index))) }
        let baidu = try BaiduSetup(tree: tree, compression: "0", extra: "shutdown_timeout: 2s\nschedule: \"@daily\"")
        try baidu.run(["init"])
        // Every slice takes 200 ms: the large file needs 6 s, so SIGTERM lands in the middle of it.
        _ = try baidu.fake.control("faults", ["endpoint": "superfile2", "error": "slow:200", "count": 10_000])
        let log = tree.dir.file("daemon.log").path
        let daemon = try startDaemon(baidu.config, log: log)
        try baidu.wait(until: "superfile2", reaches: 10, while: daemon)
        let (status, seconds) = terminate(daemon)
        #expect(status == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(seconds < 2 + 5, "the daemon took \(seconds) s to stop")
        _ = try baidu.fake.control("clear-faults", [:])
        let before = try baidu.fake.stats()["superfile2"] ?? 0
        try baidu.run(["backup"])
        let sent = (try baidu.fake.stats()["superfile2"] ?? 0) - before
        #expect(sent < 60 + 25, "the rerun sent \(sent) slices")
        try baidu.restoreAndCompare()
    }

    @Test func aBadScheduleIsRefusedAtStartWithTheReason() throws {
        let tree = try SourceTree(largeSize: 100)
        let setup = try Setup(tree: tree, extra: "schedule: \"61 * * * *\"")
        let result = try CommandRunner.archiver(["daemon", "--config", setup.config])
        #expect(result.status == 64)
        #expect(result.stderr.contains("61"), "\(result.stderr)")
    }

    @Test func whileALoginIsNeededScheduledRunsAreSkipped() throws {
        let tree = try SourceTree(largeSize: 1000)
        let baidu = try BaiduSetup(tree: tree, extra: "shutdown_timeout: 2s")
        try baidu.run(["init"])
        try baidu.fake.control("reset-stats", [:])
        try Data(#"{"reason":"test","at":"2026-11-27T00:00:00Z"}"#.utf8).write(
            to: URL(fileURLWithPath: baidu.tokenFile + ".login-needed"))
        let log = tree.dir.file("daemon.log").path
        let daemon = try startDaemon(baidu.config, log: log)
        #expect(waitFor("login is needed", in: log, while: daemon))
        #expect(waitFor("next run at", in: log, while: daemon))
        #expect(terminate(daemon).status == 0)
        #expect(try baidu.fake.stats()["superfile2"] == 0)
    }
}
