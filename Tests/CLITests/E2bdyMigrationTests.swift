import ArchiverKit
import ArchiverTestSupport
import Foundation
import Testing

/// Moving from encrypt2bdy through the real command line: its .e2bdy files decrypt with nothing left behind on a
/// failure, and its config.yml (with the container's variables) becomes a config and token file that back up to
/// Baidu (the fake) with no new login.
@Suite("encrypt2bdy migration", .serialized)
struct E2bdyMigrationTests {
    /// Names in `dir` other than `keep`: a failed decrypt must leave no output and no temporary file.
    static func leftovers(_ dir: TemporaryDirectory, keep: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !keep.contains($0) }
    }

    @Test(arguments: ["fernet", "aes"])
    func decryptRoundTripsAndFailuresLeaveNothing(format: String) throws {
        let files = try E2bdyFiles.folder()
        let key =
            format == "fernet"
            ? ["--fernet-key", files.appendingPathComponent("encrypt.key").path]
            : ["--aescrypt-passphrase-file", files.appendingPathComponent("passkey.txt").path]
        let wrongKey =
            format == "fernet"
            ? ["--fernet-key", files.appendingPathComponent("other.key").path]
            : ["--aescrypt-passphrase-file", files.appendingPathComponent("wrong-passkey.txt").path]
        let input = files.appendingPathComponent("multi.\(format).e2bdy").path
        let out = try TemporaryDirectory()

        let ok = try CommandRunner.archiver(["decrypt"] + key + [input, "-o", out.file("plain").path])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try Data(contentsOf: out.file("plain")) == Data(contentsOf: files.appendingPathComponent("multi.bin")))
        let mode = try FileManager.default.attributesOfItem(atPath: out.file("plain").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // An existing output is not replaced without --force.
        let again = try CommandRunner.archiver(["decrypt"] + key + [input, "-o", out.file("plain").path])
        #expect(again.status == 64)

        let truncated = try out.write(
            "cut.e2bdy", Array(try Data(contentsOf: URL(fileURLWithPath: input)).dropLast(40)))
        var flipped = [UInt8](try Data(contentsOf: URL(fileURLWithPath: input)))
        flipped[flipped.count / 2] =
            flipped[flipped.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let tampered = try out.write("flipped.e2bdy", flipped)
        let cases: [(args: [String], status: Int32, what: String)] = [
            (wrongKey + [input], format == "fernet" ? 4 : 5, "wrong key"),
            (key + [tampered.path], 4, "tampered"),
            (key + [truncated.path], 4, "truncated"),
            (key + [files.appendingPathComponent("multi.bin").path], 64, "not an .e2bdy file"),
            (key + ["-i", files.appendingPathComponent("encrypt.key").path, input], 64, "mixed with -i"),
        ]
        for item in cases {
            let result = try CommandRunner.archiver(["decrypt"] + item.args + ["-o", out.file("failed").path])
            #expect(result.status == item.status, "\(item.what): \(result.stderr)")
            #expect(!result.stderr.isEmpty)
            #expect(try Self.leftovers(out, keep: ["plain", "cut.e2bdy", "flipped.e2bdy"]) == [], "\(item.what)")
        }
    }

    /// A realistic encrypt2bdy config (as its image wrote it back) plus the container's variables.
    static func originalConfig(local: String, access: String, refresh: String, outdate: Double) -> String {
        """
        # 程序配置文件，请勿上传至互联网、发送给他人！

        # 百度云盘应用配置
        BDY_SECRET_KEY: test-secret-key
        BDY_APP_KEY: test-app-key
        BDY_APP_NAME: e2bdy

        # 用户token
        # 请一定不要修改下方值
        BDY_USER_ACCESS_TOKEN: \(access)
        BDY_USER_REFRESH_TOKEN: \(refresh)
        BDY_USER_TOKEN_OUTDATE: \(outdate)  # 用户token过期时间的时间戳。低于3天就刷新。请不要修改这个值！
        # 请一定不要修改上方值

        USER_PASSKEY: correct horse battery staple

        # 同步目录配置
        ENCRYPT_UPLOAD: 1
        SYNC_INTERVAL: 0 21 * * *  # 使用五位cron表达式配置监看周期
        SYNC_PATH:
          - local: '\(local)/'  # 本地文件路径
            remote: 'photos'      # 远程文件路径，不能以./或者/开头，也不能以/结尾

        """
    }

    @Test func importedConfigAndTokensBackUpWithoutALogin() throws {
        let fake = try FakeBaidu.start()
        let pair = try fake.issueToken()
        let dir = try TemporaryDirectory()
        try dir.write("src/2024/长城.jpg", TestBytes.random(300_000, seed: 9))
        try dir.write("src/notes.txt", TestBytes.text(2_000, seed: 10))
        // The saved access token has expired: the first run must refresh with the imported refresh token.
        let expired = Date().timeIntervalSince1970 - 3600.5
        let original = try dir.write(
            "old/config/config.yml",
            Array(
                Self.originalConfig(
                    local: dir.file("src").path, access: pair.access, refresh: pair.refresh, outdate: expired
                ).utf8))
        let config = dir.file("new/archiver.yml").path
        try FileManager.default.createDirectory(at: dir.file("new"), withIntermediateDirectories: true)

        // The container's variables win over the file, as they did for encrypt2bdy.
        let environment = ["SYNC_INTERVAL": "30 3 * * *", "BDY_APP_NAME": "e2bdy"]
        let imported = try CommandRunner.archiver(
            ["import-e2bdy", original.path, "-o", config], environment: environment)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("--fernet-key encrypt.key"))
        #expect(imported.stderr.contains("--aescrypt-passphrase-file"))

        let tokenFile = dir.file("new/baidu-token.json").path
        for path in [config, tokenFile, dir.file("new/archiver-key.txt").path] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(path)")
        }
        let tokens = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tokenFile))) as? [String: Any])
        #expect(tokens["refresh_token"] as? String == pair.refresh)
        #expect(tokens["access_token"] as? String == pair.access)
        #expect(tokens["expires_at"] as? Int == Int(expired))

        let loaded = try ConfigLoader.load(path: config, environment: [:]).config
        #expect(loaded.timeZone?.identifier == "Asia/Shanghai")
        #expect(loaded.schedule == "30 3 * * *")
        #expect(loaded.encryption && loaded.recipients.count == 1)
        #expect(loaded.sources.map(\.remote) == ["photos"])
        #expect(loaded.sources.map(\.local) == [dir.file("src").path])
        #expect(loaded.baidu?.tokenFile == tokenFile)

        // A second import does not replace what the first wrote.
        let again = try CommandRunner.archiver(["import-e2bdy", original.path, "-o", config], environment: environment)
        #expect(again.status == 64, "\(again.stderr)")

        // Point the imported config at the fake, then run without any login step.
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "  token_file: ",
            with: "  endpoints: {oauth: \"\(fake.url)\", api: \"\(fake.url)\", upload: \"\(fake.url)\"}\n  token_file: "
        )
        try text.write(toFile: config, atomically: false, encoding: .utf8)
        let env = ["ARCHIVER_BAIDU_RETRY_SCALE": "0.01"]
        for command in [["init"], ["backup"], ["status"]] {
            let result = try CommandRunner.archiver(command + ["--config", config], environment: env)
            #expect(result.status == 0, "archiver \(command[0]): \(result.stderr)")
        }
        #expect(try fake.stats()["refresh"] == 1, "the imported refresh token was used once")
        let stored = try #require(try fake.control("files") as? [[String: Any]])
        let paths = stored.compactMap { $0["path"] as? String }
        #expect(paths.contains { $0.hasPrefix("/apps/e2bdy/archiver/") }, "\(paths)")
        #expect(!paths.contains { !$0.hasPrefix("/apps/e2bdy/archiver/") }, "only under the repository folder")
    }

    @Test(arguments: ["/photos", "./photos", "photos/", "pho//tos", ".photos"])
    func importRefusesTheRemotePathsEncrypt2bdyRefused(remote: String) throws {
        let dir = try TemporaryDirectory()
        let text = Self.originalConfig(local: "/hdd/photos", access: "a", refresh: "r", outdate: 0)
            .replacingOccurrences(of: "remote: 'photos'", with: "remote: '\(remote)'")
        let original = try dir.write("config/config.yml", Array(text.utf8))
        let result = try CommandRunner.archiver(["import-e2bdy", original.path])
        #expect(result.status == 64)
        #expect(result.stderr.contains("config.yml:21"), "\(result.stderr)")
        #expect(result.stderr.contains("remote '\(remote)'"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("config").path) == ["config.yml"])
    }
}
