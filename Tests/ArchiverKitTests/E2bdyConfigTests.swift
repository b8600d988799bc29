import Age
import ArchiverKit
import Foundation
import Testing

/// `E2bdyConfig`: encrypt2bdy's config.yml and variables read as the original read them, and the archiver config
/// made from them loads as written.
@Suite struct E2bdyConfigTests {
    static let yaml = """
        BDY_SECRET_KEY: "file-secret"
        BDY_APP_KEY: "file-key"
        BDY_APP_NAME: "e2bdy"
        BDY_USER_ACCESS_TOKEN: "121.access"
        BDY_USER_REFRESH_TOKEN: "122.refresh"
        BDY_USER_TOKEN_OUTDATE: 1798000000.75
        ENCRYPT_UPLOAD: 0
        SYNC_INTERVAL: 0 21 * * *
        SYNC_PATH:
          - local: '/hdd/photos/'
            remote: 'photos'
          - local: 'docs'
            remote: 'backup/docs'
        """

    static func parse(_ yaml: String = yaml, _ environment: [String: String] = [:]) throws -> E2bdyConfig {
        try E2bdyConfig.parse(yaml: yaml, file: "/nas/e2bdy/config/config.yml", environment: environment)
    }

    static func destination(recipients: [String] = []) -> E2bdyConfig.Destination {
        E2bdyConfig.Destination(
            configPath: "/config/archiver.yml", tokenFile: "/config/baidu-token.json",
            catalog: "/config/catalog.sqlite",
            recipients: recipients, subfolder: "archiver")
    }

    @Test func readsTheFileAsTheOriginalDid() throws {
        let config = try Self.parse()
        #expect(config.appKey == "file-key" && config.secretKey == "file-secret" && config.appName == "e2bdy")
        #expect(
            config.tokens == .init(accessToken: "121.access", refreshToken: "122.refresh", expiresAt: 1_798_000_000))
        #expect(!config.encrypted && !config.hasPasskey)
        #expect(config.schedule == "0 21 * * *")
        // A trailing slash is dropped; a relative folder is resolved from the folder above config/, where the
        // original ran.
        #expect(
            config.mappings == [
                .init(local: "/hdd/photos", remote: "photos"), .init(local: "/nas/e2bdy/docs", remote: "backup/docs"),
            ])
    }

    @Test func variablesOverrideTheFile() throws {
        let config = try Self.parse(
            Self.yaml,
            [
                "BDY_APP_KEY": "env-key", "BDY_SECRET_KEY": "env-secret", "BDY_APP_NAME": "mybackup",
                "SYNC_INTERVAL": "15 4 * * 1", "ENCRYPT_UPLOAD": "1", "USER_PASSKEY": "pass",
                "SYNC_PATH": "/mnt/a=a, /mnt/b=b/c",
                "BDY_USER_REFRESH_TOKEN": "ignored: never read from the environment",
            ])
        #expect(config.appKey == "env-key" && config.secretKey == "env-secret" && config.appName == "mybackup")
        #expect(config.schedule == "15 4 * * 1")
        #expect(config.encrypted && config.hasPasskey)
        #expect(config.mappings == [.init(local: "/mnt/a", remote: "a"), .init(local: "/mnt/b", remote: "b/c")])
        #expect(config.tokens?.refreshToken == "122.refresh")
        // Empty variables count as unset, as in the original's env_checker.
        #expect(try Self.parse(Self.yaml, ["BDY_APP_KEY": "", "SYNC_INTERVAL": " "]).appKey == "file-key")
    }

    @Test func syncPathVariableAsAYAMLList() throws {
        let config = try Self.parse(Self.yaml, ["SYNC_PATH": "[{local: /srv/x, remote: x}]"])
        #expect(config.mappings == [.init(local: "/srv/x", remote: "x")])
    }

    @Test(arguments: [
        ("600", "*/10 * * * *"), ("3600", "0 */1 * * *"), ("21600", "0 */6 * * *"), ("86400", "0 0 * * *"),
    ])
    func earlyReleasesIntervalInSecondsBecomesCron(seconds: String, cron: String) throws {
        let config = try Self.parse(Self.yaml.replacingOccurrences(of: "0 21 * * *", with: seconds))
        #expect(config.schedule == cron)
        #expect(config.notes.contains { $0.contains("SYNC_INTERVAL") })
    }

    @Test(arguments: ["/photos", ".photos", "./photos", "photos/", "a//b", "a/./b", "a/../b", ""])
    func remotePathsTheOriginalRefused(remote: String) throws {
        let yaml = Self.yaml.replacingOccurrences(of: "remote: 'photos'", with: "remote: '\(remote)'")
        let error = try #require(throws: ArchiverError.self) { try Self.parse(yaml) }
        #expect(error.code == .usage)
        #expect(error.message.contains("/nas/e2bdy/config/config.yml:10: SYNC_PATH entry 1"), "\(error.message)")
    }

    @Test func errorsNameTheKeyAndLine() throws {
        let cron = try #require(throws: ArchiverError.self) {
            try Self.parse(Self.yaml.replacingOccurrences(of: "0 21 * * *", with: "0 25 * * *"))
        }
        #expect(cron.message.hasPrefix("/nas/e2bdy/config/config.yml:8: SYNC_INTERVAL"), "\(cron.message)")
        let env = try #require(throws: ArchiverError.self) {
            try Self.parse(Self.yaml, ["ENCRYPT_UPLOAD": "yes please"])
        }
        #expect(env.message.hasPrefix("environment variable ENCRYPT_UPLOAD"), "\(env.message)")
        let key = try #require(throws: ArchiverError.self) {
            try Self.parse(Self.yaml.replacingOccurrences(of: "\"file-key\"", with: "\"\""))
        }
        #expect(key.message.contains("BDY_APP_KEY"), "\(key.message)")
        let noPaths = try #require(throws: ArchiverError.self) {
            try Self.parse(String(Self.yaml.prefix(upTo: Self.yaml.range(of: "SYNC_PATH")!.lowerBound)))
        }
        #expect(noPaths.message.contains("SYNC_PATH"), "\(noPaths.message)")
    }

    @Test func noSavedLoginMeansNoTokens() throws {
        let config = try Self.parse(Self.yaml.replacingOccurrences(of: "\"122.refresh\"", with: "\"\""))
        #expect(config.tokens == nil)
        #expect(config.notes.contains { $0.contains("archiver auth baidu") })
    }

    @Test func unencryptedConfigLoadsWithEncryptionOff() throws {
        let text = try Self.parse().archiverConfig(Self.destination(), source: "config.yml")
        let loaded = try ConfigLoader.parse(yaml: text, path: "/config/archiver.yml", environment: [:]).config
        #expect(!loaded.encryption)
        #expect(loaded.timeZone?.identifier == "Asia/Shanghai")
        #expect(loaded.schedule == "0 21 * * *")
        #expect(loaded.targets.map(\.spec) == ["baidu:archiver"])
        #expect(loaded.baidu?.appName == "e2bdy" && loaded.baidu?.appKey == "file-key")
        #expect(loaded.baidu?.tokenFile == "/config/baidu-token.json")
        #expect(loaded.catalog == "/config/catalog.sqlite")
        #expect(loaded.sources.map(\.remote) == ["photos", "backup/docs"])
    }

    @Test func encryptedConfigNeedsARecipientAndEncryptsToIt() throws {
        let config = try Self.parse(Self.yaml, ["ENCRYPT_UPLOAD": "1"])
        let missing = try #require(throws: ArchiverError.self) {
            try config.archiverConfig(Self.destination(), source: "config.yml")
        }
        #expect(missing.code == .usage)
        let recipient = X25519Identity.generate().recipient
        let text = try config.archiverConfig(
            Self.destination(recipients: [recipient.description]), source: "config.yml")
        let loaded = try ConfigLoader.parse(yaml: text, path: "/config/archiver.yml", environment: [:]).config
        #expect(loaded.encryption)
        #expect(loaded.recipients == [recipient])
    }
}
