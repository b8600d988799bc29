import Age
import ArchiverKit
import Foundation
import Testing

private typealias F = ConfigFixtures

@Suite("Config: loading")
struct ConfigTests {
    @Test("a config with every key parses to the values written")
    func fullConfig() throws {
        let dir = try ConfigTempDir()
        try dir.write("recipients.txt", "# family keys\n\n\(F.recipient2)\n  \(F.recipient1)  \n")
        let lines = [
            "# every key",
            "catalog: /config/catalog.sqlite",
            "targets:",
            "  cloud: \"baidu:\"",
            "  usb: \"local:/mnt/usb/archive\"",
            "copies: 1",
            "recipients: [\(F.recipient1)]",
            "recipients_file: recipients.txt",
            "identity: /secure/absent-key.txt",
            "encryption: yes",
            "compression: auto:3",
            "naming: mirror",
            "exclude: [\"*.tmp\"]",
            "sources:",
            "  - local: /hdd/photos",
            "    remote: photos",
            "    exclude: [\"*.tmp\", \"**/cache/**\"]",
            "    compression: 0",
            "    keep: {daily: 30}",
            "  - local: docs/",
            "    remote: family/docs",
            "baidu:",
            "  app_name: e2bdy",
            "  app_key: AK",
            "  secret_key: SK",
            "  token_file: /config/baidu-token.json",
            "  upload_concurrency: 4",
            "  endpoints: {oauth: \"http://127.0.0.1:8080\", api: \"http://127.0.0.1:8081\", "
                + "upload: \"http://127.0.0.1:8082\"}",
            "schedule: \"0 3 * * 1-5\"",
            "timezone: Asia/Shanghai",
            "shutdown_timeout: 500ms",
            "memory_limit: 512MiB",
            "limits: {upload_kib_per_s: 2048, window: \"23:00-07:00\"}",
            "keep: {last: 3, hourly: 0, daily: 7, weekly: 4, monthly: 12, yearly: 1, deleted_days: 90}",
            "log_level: debug",
            "log_file: logs/archiver.log",
        ]
        let loaded = try ConfigLoader.parse(yaml: F.yaml(lines), path: dir.path + "/config.yml", environment: [:])
        let c = loaded.config
        #expect(loaded.warnings.isEmpty)
        #expect(c.configPath == dir.path + "/config.yml")
        #expect(c.baseDirectory == dir.path)
        #expect(c.catalog == "/config/catalog.sqlite")
        #expect(
            c.targets == [.init(name: "cloud", spec: "baidu:"), .init(name: "usb", spec: "local:/mnt/usb/archive")])
        #expect(c.targets.map(\.scheme) == ["baidu", "local"])
        #expect(c.copies == 1)
        #expect(c.recipients.map(\.description) == [F.recipient1, F.recipient2])
        #expect(c.recipientsFile == dir.path + "/recipients.txt")
        #expect(c.identity == "/secure/absent-key.txt")
        #expect(c.encryption)
        #expect(c.compression == .auto(level: 3))
        #expect(c.naming == .mirror)
        #expect(c.exclude == ["*.tmp"])
        #expect(c.sources.count == 2)
        #expect(c.sources[0].local == "/hdd/photos")
        #expect(c.sources[0].remote == "photos")
        #expect(c.sources[0].exclude == ["*.tmp", "**/cache/**"])
        #expect(c.sources[0].compression == .off)
        #expect(
            c.sources[0].keep
                == .init(last: 3, hourly: 0, daily: 30, weekly: 4, monthly: 12, yearly: 1, deletedDays: 90))
        #expect(c.sources[1].local == dir.path + "/docs")
        #expect(c.sources[1].remote == "family/docs")
        #expect(c.sources[1].exclude == ["*.tmp"])
        #expect(c.sources[1].compression == .auto(level: 3))
        #expect(c.sources[1].keep == c.keep)
        let baidu = try #require(c.baidu)
        #expect(baidu.appName == "e2bdy")
        #expect(baidu.appKey == "AK")
        #expect(baidu.secretKey == "SK")
        #expect(baidu.tokenFile == "/config/baidu-token.json")
        #expect(baidu.uploadConcurrency == 4)
        #expect(baidu.endpoints.oauth.absoluteString == "http://127.0.0.1:8080")
        #expect(baidu.endpoints.api.absoluteString == "http://127.0.0.1:8081")
        #expect(baidu.endpoints.upload.absoluteString == "http://127.0.0.1:8082")
        #expect(c.schedule == "0 3 * * 1-5")
        #expect(c.timeZone?.identifier == "Asia/Shanghai")
        #expect(c.shutdownTimeout == .milliseconds(500))
        #expect(c.memoryLimit == .bytes(512 << 20))
        #expect(c.limits.uploadKiBPerSecond == 2048)
        #expect(c.limits.window == .init(startMinute: 23 * 60, endMinute: 7 * 60))
        #expect(c.keep == .init(last: 3, hourly: 0, daily: 7, weekly: 4, monthly: 12, yearly: 1, deletedDays: 90))
        #expect(String(describing: c.logLevel) == "debug")
        #expect(c.logFile == dir.path + "/logs/archiver.log")
    }

    @Test("defaults fill what the file leaves out")
    func defaults() throws {
        let c = try F.parse(F.minimal).config
        #expect(c.configPath == "/cfg/config.yml")
        #expect(c.baseDirectory == "/cfg")
        #expect(c.catalog == "/cfg/catalog.sqlite")
        #expect(c.targets == [.init(name: "default", spec: "local:/mnt/usb")])
        #expect(c.copies == 1)
        #expect(c.encryption)
        #expect(c.naming == .opaque)
        #expect(c.compression == .auto(level: CompressionMode.defaultAutoLevel))
        #expect(c.schedule == "0 21 * * *")
        #expect(c.shutdownTimeout == .seconds(8))
        #expect(c.timeZone == nil)
        #expect(c.memoryLimit == nil)
        #expect(c.limits == .init())
        #expect(c.keep.keepsEverything)
        #expect(String(describing: c.logLevel) == "info")
        #expect(c.logFile == nil)
        #expect(c.identity == nil)
        #expect(c.recipientsFile == nil)
        #expect(c.baidu == nil)
        #expect(c.exclude.isEmpty)
        #expect(c.sources == [.init(local: "/hdd/photos", remote: "photos")])
    }

    @Test("naming defaults to mirror when encryption is off, and no recipients are needed then")
    func namingFollowsEncryption() throws {
        let c = try F.parse([
            "backend: \"local:/mnt/usb\"",
            "encryption: off",
            "sources: [{local: /hdd/photos, remote: photos}]",
        ]).config
        #expect(!c.encryption)
        #expect(c.naming == .mirror)
        #expect(c.recipients.isEmpty)

        let explicit = try F.parse(F.minimal + ["naming: mirror"]).config
        #expect(explicit.naming == .mirror)
    }

    @Test("copies defaults to the number of targets")
    func copiesDefault() throws {
        let c = try F.parse([
            "targets: {usb: \"local:/mnt/usb\", nas: \"local:/mnt/nas\", test: \"mock:\"}",
            "recipients: [\(F.recipient1)]",
            "sources: [{local: /hdd/photos, remote: photos}]",
        ]).config
        #expect(c.targets.map(\.name) == ["usb", "nas", "test"])
        #expect(c.copies == 3)
    }

    @Test("relative paths resolve against the config file's folder")
    func relativePaths() throws {
        let c = try F.parse([
            "backend: \"local:/mnt/usb\"",
            "recipients: [\(F.recipient1)]",
            "catalog: state/catalog.sqlite",
            "sources:",
            "  - {local: data/photos, remote: photos}",
            "  - {local: ../srv/./music/, remote: music}",
            "baidu: {token_file: ./token.json}",
        ]).config
        #expect(c.catalog == "/cfg/state/catalog.sqlite")
        #expect(c.sources.map(\.local) == ["/cfg/data/photos", "/srv/music"])
        #expect(c.baidu?.tokenFile == "/cfg/token.json")
    }

    @Test("an empty value counts as not set; a quoted one does not")
    func nullMeansUnset() throws {
        let c = try F.parse(F.minimal + ["schedule:", "log_file: ~", "keep:"]).config
        #expect(c.schedule == ArchiverConfig.defaultSchedule)
        #expect(c.logFile == nil)
        let message = F.failure(F.minimal + ["log_file: \"\""])
        #expect(message.hasPrefix("/cfg/config.yml:6: log_file '' must not be empty"))
    }

    @Test("the baidu block gets its defaults, and backendContext flattens it under YAML names")
    func backendContext() throws {
        let c = try F.parse([
            "backend: baidu",
            "recipients: [\(F.recipient1)]",
            "sources: [{local: /hdd/photos, remote: photos}]",
            "baidu: {app_name: e2bdy, app_key: AK, secret_key: SK}",
        ]).config
        let context = c.backendContext()
        #expect(context.baseDirectory == "/cfg")
        #expect(
            context.settings["baidu"] == [
                "app_name": "e2bdy", "app_key": "AK", "secret_key": "SK",
                "token_file": "/cfg/baidu-token.json", "upload_concurrency": "2",
                "endpoints.oauth": "https://openapi.baidu.com", "endpoints.api": "https://pan.baidu.com",
                "endpoints.upload": "https://d.pcs.baidu.com",
            ])
        #expect(try F.parse(F.minimal).config.backendContext().settings.isEmpty)
    }

    // MARK: Environment

    @Test("every environment variable overrides its key")
    func environmentOverrides() throws {
        let dir = try ConfigTempDir()
        let env = [
            "BDY_APP_KEY": "env-ak",
            "BDY_SECRET_KEY": "env-sk",
            "BDY_APP_NAME": "envapp",
            "ARCHIVER_CATALOG": "/data/catalog.sqlite",
            "ARCHIVER_BACKEND": "baidu:",
            "ARCHIVER_RECIPIENTS": "\(F.recipient2), \(F.recipient3),",
            "ARCHIVER_IDENTITY": "key.txt",
            "ARCHIVER_ENCRYPTION": "on",
            "ARCHIVER_COMPRESSION": "9",
            "ARCHIVER_NAMING": "mirror",
            "ARCHIVER_SCHEDULE": "@hourly",
            "ARCHIVER_TIMEZONE": "Europe/Berlin",
            "ARCHIVER_MEMORY_LIMIT": "1g",
            "ARCHIVER_LOG_LEVEL": "trace",
        ]
        let lines = F.minimal + ["encryption: off", "compression: 1", "copies: 1", "log_level: error"]
        let loaded = try ConfigLoader.parse(yaml: F.yaml(lines), path: dir.path + "/config.yml", environment: env)
        let c = loaded.config
        #expect(c.baidu?.appKey == "env-ak")
        #expect(c.baidu?.secretKey == "env-sk")
        #expect(c.baidu?.appName == "envapp")
        #expect(c.baidu?.tokenFile == dir.path + "/baidu-token.json")
        #expect(c.catalog == "/data/catalog.sqlite")
        #expect(c.targets == [.init(name: "default", spec: "baidu:")])
        #expect(c.copies == 1)
        #expect(c.recipients.map(\.description) == [F.recipient2, F.recipient3])
        #expect(c.identity == dir.path + "/key.txt")
        #expect(c.encryption)
        #expect(c.compression == .level(9))
        #expect(c.naming == .mirror)
        #expect(c.schedule == "@hourly")
        #expect(c.timeZone?.identifier == "Europe/Berlin")
        #expect(c.memoryLimit == .bytes(1 << 30))
        #expect(String(describing: c.logLevel) == "trace")
    }

    @Test("the original tool's ENCRYPT_UPLOAD and SYNC_INTERVAL still work, and the ARCHIVER_ names win")
    func legacyVariables() throws {
        let off = try F.parse(F.minimal, environment: ["ENCRYPT_UPLOAD": "0", "SYNC_INTERVAL": "30 2 * * *"]).config
        #expect(!off.encryption)
        #expect(off.naming == .mirror)
        #expect(off.schedule == "30 2 * * *")

        let on = try F.parse(F.minimal + ["encryption: off"], environment: ["ENCRYPT_UPLOAD": "1"]).config
        #expect(on.encryption)

        let both = try F.parse(
            F.minimal,
            environment: [
                "ENCRYPT_UPLOAD": "1", "ARCHIVER_ENCRYPTION": "false",
                "SYNC_INTERVAL": "0 1 * * *", "ARCHIVER_SCHEDULE": "0 2 * * *",
            ]
        ).config
        #expect(!both.encryption)
        #expect(both.schedule == "0 2 * * *")
    }

    @Test("BDY_* variables fill in a baidu block the file already has, and empty variables are ignored")
    func baiduVariablesMerge() throws {
        let c = try F.parse(
            F.minimal + ["baidu: {app_name: e2bdy, app_key: file-ak, upload_concurrency: 3}"],
            environment: ["BDY_SECRET_KEY": "env-sk", "BDY_APP_KEY": "", "ARCHIVER_BACKEND": " "]
        ).config
        #expect(c.baidu?.appName == "e2bdy")
        #expect(c.baidu?.appKey == "file-ak")
        #expect(c.baidu?.secretKey == "env-sk")
        #expect(c.baidu?.uploadConcurrency == 3)
        #expect(c.targets == [.init(name: "default", spec: "local:/mnt/usb")])
    }

    @Test("ARCHIVER_BACKEND replaces a targets mapping and its copies")
    func backendVariableReplacesTargets() throws {
        let c = try F.parse(
            [
                "targets: {usb: \"local:/mnt/usb\", nas: \"local:/mnt/nas\"}",
                "copies: 2",
                "recipients: [\(F.recipient1)]",
                "sources: [{local: /hdd/photos, remote: photos}]",
            ],
            environment: ["ARCHIVER_BACKEND": "mock:"]
        ).config
        #expect(c.targets == [.init(name: "default", spec: "mock:")])
        #expect(c.copies == 1)
    }

    @Test("ARCHIVER_RECIPIENTS satisfies encryption when the file has no recipients")
    func recipientsFromEnvironment() throws {
        let c = try F.parse(
            ["backend: \"local:/mnt/usb\"", "sources: [{local: /hdd/photos, remote: photos}]"],
            environment: ["ARCHIVER_RECIPIENTS": F.recipient3]
        ).config
        #expect(c.recipients.map(\.description) == [F.recipient3])
    }

    // MARK: Warnings

    @Test("a secret_key in a file others can read gives a chmod warning; mode 0600 does not")
    func secretKeyWarning() throws {
        let dir = try ConfigTempDir()
        let lines = F.minimal + ["baidu: {app_name: e2bdy, app_key: AK, secret_key: SK}"]
        let open = try dir.write("open.yml", F.yaml(lines), mode: 0o644)
        let warnings = try ConfigLoader.load(path: open, environment: [:]).warnings
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("secret_key") == true)
        #expect(warnings.first?.contains("chmod 600 \(open)") == true)
        #expect(warnings.first?.contains("644") == true)

        let closed = try dir.write("closed.yml", F.yaml(lines), mode: 0o600)
        #expect(try ConfigLoader.load(path: closed, environment: [:]).warnings.isEmpty)

        // A key that comes from the environment is not in the file, whatever the file's mode.
        let keyless = try dir.write("keyless.yml", F.yaml(F.minimal + ["baidu: {app_name: e2bdy}"]), mode: 0o644)
        #expect(try ConfigLoader.load(path: keyless, environment: ["BDY_SECRET_KEY": "SK"]).warnings.isEmpty)
    }

    @Test("a readable identity gives a note that the daemon does not need it")
    func identityNote() throws {
        let dir = try ConfigTempDir()
        let key = try dir.write("key.txt", "AGE-SECRET-KEY-1PLACEHOLDER\n")
        let loaded = try F.parse(F.minimal + ["identity: \(key)"])
        #expect(loaded.warnings.count == 1)
        let note = try #require(loaded.warnings.first)
        #expect(note.hasPrefix("note: identity '\(key)' is readable"))
        #expect(note.contains("off the NAS"))
        #expect(try F.parse(F.minimal + ["identity: \(dir.path)/absent.txt"]).warnings.isEmpty)
    }

    @Test("load reports a missing file with a hint to run init")
    func missingFile() throws {
        let dir = try ConfigTempDir()
        let error = try #require(throws: ArchiverError.self) {
            try ConfigLoader.load(path: dir.path + "/config.yml", environment: [:])
        }
        #expect(error.code == .usage)
        #expect(
            error.message
                == "\(dir.path)/config.yml: the config file does not exist; 'archiver init' writes a starter config")
    }

    // MARK: Starter and example

    @Test("the starter config is written 0600, refuses to overwrite, and loads back")
    func starter() throws {
        let dir = try ConfigTempDir()
        let path = dir.path + "/config.yml"
        try ConfigLoader.writeStarter(
            to: path, backend: "local:/mnt/usb/archive", recipients: [F.recipient1, F.recipient2],
            catalog: "catalog.sqlite",
            sources: [(local: "/hdd/photos", remote: "photos"), (local: "/hdd/my \"docs\"", remote: "docs #1")])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)

        let loaded = try ConfigLoader.load(path: path, environment: [:])
        #expect(loaded.warnings.isEmpty)
        let c = loaded.config
        #expect(c.targets == [.init(name: "default", spec: "local:/mnt/usb/archive")])
        #expect(c.recipients.map(\.description) == [F.recipient1, F.recipient2])
        #expect(c.catalog == dir.path + "/catalog.sqlite")
        #expect(c.sources.map(\.local) == ["/hdd/photos", "/hdd/my \"docs\""])
        #expect(c.sources.map(\.remote) == ["photos", "docs #1"])
        #expect(c.encryption)
        #expect(c.schedule == ArchiverConfig.defaultSchedule)

        let before = try String(contentsOfFile: path, encoding: .utf8)
        let error = try #require(throws: ArchiverError.self) {
            try ConfigLoader.writeStarter(
                to: path, backend: "mock:", recipients: [], catalog: "c.sqlite", sources: [])
        }
        #expect(error.code == .usage)
        #expect(error.message.contains("already exists"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
    }

    @Test("a Baidu starter loads back once the keys come from the environment")
    func baiduStarter() throws {
        let dir = try ConfigTempDir()
        let path = dir.path + "/config.yml"
        try ConfigLoader.writeStarter(
            to: path, backend: "baidu:", recipients: [F.recipient1], catalog: "/config/catalog.sqlite",
            sources: [(local: "/hdd/photos", remote: "photos")])
        let message = try #require(throws: ArchiverError.self) {
            try ConfigLoader.load(path: path, environment: [:])
        }.message
        #expect(message.contains("baidu.app_key is not set"))
        #expect(message.contains("BDY_APP_KEY"))
        let c = try ConfigLoader.load(path: path, environment: ["BDY_APP_KEY": "AK", "BDY_SECRET_KEY": "SK"]).config
        #expect(c.baidu?.appName == "e2bdy")
        #expect(c.baidu?.secretKey == "SK")
    }

    @Test("a starter without recipients or sources does not load until they are added, and says how")
    func emptyStarter() throws {
        let dir = try ConfigTempDir()
        let path = dir.path + "/config.yml"
        try ConfigLoader.writeStarter(
            to: path, backend: "local:/mnt/usb", recipients: [], catalog: "catalog.sqlite",
            sources: [(local: "/hdd/photos", remote: "photos")])
        let message = try #require(throws: ArchiverError.self) {
            try ConfigLoader.load(path: path, environment: [:])
        }.message
        #expect(message.contains("archiver key generate --output key.txt"))

        let noSources = dir.path + "/nosources.yml"
        try ConfigLoader.writeStarter(
            to: noSources, backend: "local:/mnt/usb", recipients: [F.recipient1], catalog: "catalog.sqlite",
            sources: [])
        let second = try #require(throws: ArchiverError.self) {
            try ConfigLoader.load(path: noSources, environment: [:])
        }.message
        #expect(second.contains("no sources"))
    }

    @Test("the starter refuses arguments the loader would refuse")
    func starterChecksArguments() throws {
        let dir = try ConfigTempDir()
        let path = dir.path + "/config.yml"
        let badRemote = try #require(throws: ArchiverError.self) {
            try ConfigLoader.writeStarter(
                to: path, backend: "local:/x", recipients: [], catalog: "c", sources: [(local: "/a", remote: "/a")])
        }
        #expect(
            badRemote.message == "remote '/a' must not start with '/': it is a folder inside the target, e.g. photos")
        let badRecipient = try #require(throws: ArchiverError.self) {
            try ConfigLoader.writeStarter(
                to: path, backend: "local:/x", recipients: ["age1nope"], catalog: "c", sources: [])
        }
        #expect(badRecipient.message.hasPrefix("recipient 'age1nope' is not an age recipient"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("examples/config/local.yml loads")
    func localExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.path + "/examples/config/local.yml"
        let loaded = try ConfigLoader.load(path: path, environment: [:])
        #expect(loaded.warnings.isEmpty)
        let c = loaded.config
        #expect(c.targets.map(\.scheme) == ["local"])
        #expect(c.encryption)
        #expect(!c.recipients.isEmpty)
        #expect(!c.sources.isEmpty)
        #expect(c.catalog.hasPrefix("/"))
    }
}
