import ArchiverKit
import ArchiverTestSupport
import Foundation
import Testing

/// Nothing secret reaches what people and log collectors see: a full backup (with a failed upload, a token refresh
/// and a resume) and a restore against the fake Baidu at `trace` level, then every byte of stdout, stderr, the log
/// file and the catalog folder is searched for the tokens, the app secret, the identity and a per-object secret.
@Suite("Secrets stay out of logs and the catalog")
struct SecretLeakTests {
    @Test func noSecretAppearsInOutputLogsOrCatalogAtTraceLevel() throws {
        let tree = try SourceTree(onlyLarge: 10 * BaiduSetup.sliceSize + 123)
        let logFile = tree.dir.file("archiver.log").path
        let baidu = try BaiduSetup(tree: tree, extra: "log_level: trace\nlog_file: \(logFile)")
        var outputs: [CommandResult] = [try baidu.run(["init"])]
        let firstPair = try tokens(baidu)

        // An upload that fails after its plan (and per-object secret) was recorded: the secret is in the catalog now.
        _ = try baidu.fake.control("faults", ["endpoint": "superfile2", "error": "http:500", "count": 1000])
        outputs.append(try baidu.run(["backup"], expect: 3))
        let status = try baidu.run(["status", "--json"], expect: 3)
        let targets = try #require(
            (try JSONSerialization.jsonObject(with: Data(status.stdoutText.utf8)) as? [String: Any])?["targets"]
                as? [[String: Any]])
        let repository = try #require(targets.first?["repository"] as? String)
        let catalog = try Catalog(path: tree.dir.file("state/catalog.sqlite").path, readOnly: true)
        let plan = try #require(
            try catalog.pendingUpload(
                repositoryID: repository, source: "home", path: Array("big/video.bin".utf8), segment: 0),
            "the failed upload left its plan: \(status.stdoutText) \(outputs[1].stderr.split(separator: "\n").filter { !$0.contains("trace:") })")
        let objectSecret = plan.secret
        #expect(objectSecret.count >= 16)

        // The resume, after the access token expired: a refresh writes a new pair.
        _ = try baidu.fake.control("clear-faults", [:])
        _ = try baidu.fake.control("expire-access-tokens", [:])
        outputs.append(try baidu.run(["backup", "--json"]))
        let secondPair = try tokens(baidu)
        #expect(secondPair.access != firstPair.access, "the run refreshed the token")
        let restored = tree.dir.file("restored").path
        outputs.append(try baidu.run(["restore", "--to", restored]))
        try compareTrees(tree.root.path, restored + "/home")
        #expect(
            try catalog.pendingUpload(
                repositoryID: repository, source: "home", path: Array("big/video.bin".utf8), segment: 0) == nil)

        // The log was really written at trace level, privately.
        let log = try Data(contentsOf: URL(fileURLWithPath: logFile))
        let logText = String(decoding: log, as: UTF8.self)
        #expect(logText.contains("archiver.baidu.http trace: POST"), "trace records of requests are logged")
        #expect(logText.contains("refreshed the Baidu access token"))
        var info = stat()
        stat(logFile, &info)
        #expect(info.st_mode & 0o777 == 0o600)

        let identity = try String(contentsOfFile: baidu.setup.key, encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("AGE-SECRET-KEY-") }.map(String.init)
        let secrets: [(String, [UInt8])] =
            [
                ("access token", Array(firstPair.access.utf8)), ("refresh token", Array(firstPair.refresh.utf8)),
                ("refreshed access token", Array(secondPair.access.utf8)),
                ("refreshed refresh token", Array(secondPair.refresh.utf8)),
                ("app secret", Array("test-secret-key".utf8)),
                ("identity", Array(try #require(identity).utf8)),
                ("identity (lower case)", Array(try #require(identity).lowercased().utf8)),
                ("object secret", objectSecret),
                ("object secret (hex)", Array(objectSecret.map { String(format: "%02x", $0) }.joined().utf8)),
                ("object secret (HEX)", Array(objectSecret.map { String(format: "%02X", $0) }.joined().utf8)),
                ("object secret (base64)", Array(Data(objectSecret).base64EncodedString().utf8)),
            ]
        var haystacks: [(String, [UInt8])] = outputs.enumerated().flatMap { index, result in
            [("stdout of run \(index + 1)", Array(result.stdout)), ("stderr of run \(index + 1)", Array(result.stderr.utf8))]
        }
        haystacks.append(("the log file", Array(log)))
        let state = tree.dir.file("state").path
        for name in try FileManager.default.contentsOfDirectory(atPath: state) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: state + "/" + name))
            haystacks.append(("state/\(name)", Array(bytes)))
        }
        #expect(haystacks.contains { $0.0 == "state/catalog.sqlite" })
        for (what, secret) in secrets {
            for (place, bytes) in haystacks {
                #expect(!contains(bytes, secret), "the \(what) appears in \(place)")
            }
        }
    }

    private func tokens(_ baidu: BaiduSetup) throws -> (access: String, refresh: String) {
        let data = try Data(contentsOf: URL(fileURLWithPath: baidu.tokenFile))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (try #require(object["access_token"] as? String), try #require(object["refresh_token"] as? String))
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first, Array(haystack[i..<i + needle.count]) == needle { return true }
            i += 1
        }
        return false
    }
}
