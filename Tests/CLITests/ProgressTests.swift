import ArchiverTestSupport
import Foundation
import Testing

/// What scripts and people see while a backup runs: `--json` events and summary, and the upload cap.
@Suite("Progress and limits")
struct ProgressTests {
    private func lines(_ result: CommandResult) throws -> [[String: Any]] {
        try result.stdoutText.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try #require(object, "not a JSON object: \(line)")
        }
    }

    @Test func jsonPrintsOneEventPerStoredFileThenTheSummary() throws {
        let tree = try SourceTree(largeSize: 3 << 20)
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        let events = try lines(setup.run(["backup", "--json"]))
        let summary = try #require(events.last)
        #expect(summary["event"] as? String == "summary")
        let files = events.filter { $0["event"] as? String == "file" }
        let stored = files.filter { $0["outcome"] as? String == "stored" }
        #expect(stored.count == summary["stored"] as? Int)
        #expect(stored.contains { $0["path"] as? String == "home/big/video.bin" && $0["size"] as? Int == 3 << 20 })
        #expect(events.dropLast().allSatisfy { ["file", "progress"].contains($0["event"] as? String ?? "") })
        // Nothing for people leaks into stdout: every line parsed above.

        // An unchanged rerun stores nothing, so it has no file events, only the summary.
        let again = try lines(setup.run(["backup", "--json"]))
        #expect(again.count == 1 && again[0]["stored"] as? Int == 0)
    }

    @Test func theUploadCapHoldsTheRunToTheConfiguredRate() throws {
        let tree = try SourceTree(onlyLarge: 3 << 20)
        let setup = try Setup(tree: tree, compression: "off", extra: "limits: {upload_kib_per_s: 1024}")
        try setup.run(["init"])
        let events = try lines(setup.run(["backup", "--json"]))
        let summary = try #require(events.last)
        // 3 MiB (and a little age overhead) at 1 MiB/s, less the quarter-second burst: it cannot be faster.
        // (A lower bound only: a loaded machine makes a run slower, never faster.)
        let seconds = try #require(summary["seconds"] as? Double)
        #expect(seconds >= 2.7, "the capped run took \(seconds) s")
        #expect(events.contains { $0["event"] as? String == "progress" }, "a run of seconds reports progress")
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        try compareTrees(tree.root.path, restored + "/home")
    }
}
