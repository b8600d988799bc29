import ArchiverKit
import Foundation
import Testing

private typealias F = ConfigFixtures

/// A config that must be refused and the text its message must hold.
struct BadConfig: Sendable, CustomTestStringConvertible {
    let name: String
    let lines: [String]
    /// Substrings of the message; the first is normally the `file:line: key` head.
    let expected: [String]
    var environment: [String: String] = [:]

    var testDescription: String { name }
}

@Suite("Config: errors")
struct ConfigErrorTests {
    static let cases: [BadConfig] = [
        BadConfig(
            name: "misspelt key",
            lines: F.minimal + ["compresion: auto"],
            expected: [
                "/cfg/config.yml:6: key 'compresion' is not known here; did you mean 'compression'? "
                    + "Allowed: catalog, backend, targets, copies, recipients,"
            ]),
        BadConfig(
            name: "misspelt key in baidu",
            lines: F.minimal + ["baidu:", "  app_name: e2bdy", "  app_kye: AK"],
            expected: ["/cfg/config.yml:8: key 'app_kye' is not known in baidu; did you mean 'app_key'? Allowed: "]),
        BadConfig(
            name: "vip_type is not a key",
            lines: F.minimal + ["baidu:", "  vip_type: 2"],
            expected: ["/cfg/config.yml:7: key 'vip_type' is not known in baidu. Allowed: app_name, app_key,"]),
        BadConfig(
            name: "key of another block",
            lines: F.minimal + ["app_key: AK"],
            expected: ["/cfg/config.yml:6: key 'app_key' is not known here; 'app_key' belongs in the 'baidu:' block."]),
        BadConfig(
            name: "original tool's key",
            lines: F.minimal + ["SYNC_PATH: []"],
            expected: ["/cfg/config.yml:6: key 'SYNC_PATH' is not known here; encrypt2bdy's SYNC_PATH is 'sources:'"]),
        BadConfig(
            name: "misspelt key in a source",
            lines: F.minimal + ["    excludes: [\"*.tmp\"]"],
            expected: ["/cfg/config.yml:6: key 'excludes' is not known in sources[0]; did you mean 'exclude'?"]),
        BadConfig(
            name: "misspelt key in keep of a source",
            lines: F.minimal + ["    keep: {dayly: 3}"],
            expected: ["/cfg/config.yml:6: key 'dayly' is not known in sources[0].keep; did you mean 'daily'?"]),
        BadConfig(
            name: "list where text is expected",
            lines: F.minimal + ["catalog: [a, b]"],
            expected: ["/cfg/config.yml:6: catalog must be text (a single value), not a list"]),
        BadConfig(
            name: "mapping where text is expected",
            lines: F.minimal + ["schedule: {at: 21}"],
            expected: ["/cfg/config.yml:6: schedule must be text (a single value), not a mapping"]),
        BadConfig(
            name: "text where a list is expected",
            lines: F.minimal + ["exclude: \"*.tmp\""],
            expected: [
                "/cfg/config.yml:6: exclude must be a list such as [\"*.tmp\", \"**/cache/**\"], not the text '*.tmp'"
            ]),
        BadConfig(
            name: "a source that is not a mapping",
            lines: ["backend: \"local:/mnt/usb\"", "recipients: [\(F.recipient1)]", "sources:", "  - /hdd/photos"],
            expected: ["/cfg/config.yml:4: sources[0] must be a mapping with 'local:' and 'remote:', not the text"]),
        BadConfig(
            name: "text where a mapping is expected",
            lines: F.minimal + ["baidu: e2bdy"],
            expected: ["/cfg/config.yml:6: baidu must be a mapping ('key: value' lines), not the text 'e2bdy'"]),
        BadConfig(
            name: "root is a list",
            lines: ["- backend: \"mock:\""],
            expected: ["/cfg/config.yml:1: the file must be a mapping ('key: value' lines), not a list"]),
        BadConfig(
            name: "empty file",
            lines: ["# nothing yet"],
            expected: ["/cfg/config.yml:1: the file has no settings", "archiver init"]),
        BadConfig(
            name: "YAML syntax error",
            lines: F.minimal + ["exclude: [\"*.tmp\"", "naming: opaque"],
            expected: ["/cfg/config.yml:7: YAML syntax error:"]),
        BadConfig(
            name: "tab indentation",
            lines: ["backend: \"local:/mnt/usb\"", "sources:", "\t- local: /hdd"],
            expected: ["/cfg/config.yml:3: YAML syntax error:", "tabs"]),
        BadConfig(
            name: "unquoted @daily",
            lines: F.minimal + ["schedule: @daily"],
            expected: ["/cfg/config.yml:6: YAML syntax error:", "in quotes, e.g. schedule: \"@daily\""]),
        BadConfig(
            name: "unquoted spec ending with a colon",
            lines: ["backend: baidu:"],
            expected: ["/cfg/config.yml:1: YAML syntax error:", "backend: \"baidu:\""]),
        BadConfig(
            name: "duplicate key",
            lines: F.minimal + ["naming: opaque", "naming: mirror"],
            expected: ["/cfg/config.yml:6: key 'naming' appears more than once"]),
        BadConfig(
            name: "no sources",
            lines: ["backend: \"local:/mnt/usb\"", "recipients: [\(F.recipient1)]"],
            expected: ["/cfg/config.yml:1: no sources: add a 'sources:' list"]),
        BadConfig(
            name: "empty sources",
            lines: ["backend: \"local:/mnt/usb\"", "recipients: [\(F.recipient1)]", "sources: []"],
            expected: ["/cfg/config.yml:3: no sources"]),
        BadConfig(
            name: "no target",
            lines: ["recipients: [\(F.recipient1)]", "sources: [{local: /hdd/photos, remote: photos}]"],
            expected: ["/cfg/config.yml:1: no target: add 'backend: \"local:/mnt/usb/archive\"'", "ARCHIVER_BACKEND"]),
        BadConfig(
            name: "empty targets",
            lines: ["targets: {}", "recipients: [\(F.recipient1)]", "sources: [{local: /a, remote: a}]"],
            expected: ["/cfg/config.yml:1: targets is empty"]),
        BadConfig(
            name: "backend and targets together",
            lines: F.minimal + ["targets:", "  usb: \"local:/mnt/usb\""],
            expected: ["/cfg/config.yml:6: 'backend' and 'targets' cannot both be set (the other is on line 1)"]),
        BadConfig(
            name: "targets then backend",
            lines: ["targets: {usb: \"local:/mnt/usb\"}", "backend: \"mock:\""],
            expected: ["/cfg/config.yml:2: 'backend' and 'targets' cannot both be set (the other is on line 1)"]),
        BadConfig(
            name: "backend that is a bare path",
            lines: ["backend: /mnt/usb"],
            expected: ["/cfg/config.yml:1: backend '/mnt/usb' is not a backend spec: write scheme:argument"]),
        BadConfig(
            name: "target name with a space",
            lines: ["targets: {\"my usb\": \"local:/mnt/usb\"}"],
            expected: ["/cfg/config.yml:1: target name 'my usb' is not a valid target name"]),
        BadConfig(
            name: "copies above the number of targets",
            lines: F.minimal + ["copies: 2"],
            expected: ["/cfg/config.yml:6: copies 2 is more than the 1 target configured"]),
        BadConfig(
            name: "copies zero",
            lines: F.minimal + ["copies: 0"],
            expected: ["/cfg/config.yml:6: copies '0' is out of range: use 1 or more"]),
        BadConfig(
            name: "encryption without recipients",
            lines: ["backend: \"local:/mnt/usb\"", "encryption: on", "sources: [{local: /a, remote: a}]"],
            expected: [
                "/cfg/config.yml:2: encryption is on but no recipients are set",
                "archiver key generate --output key.txt", "age1", "recipients:", "encryption: off",
            ]),
        BadConfig(
            name: "default encryption without recipients",
            lines: ["backend: \"local:/mnt/usb\"", "sources: [{local: /a, remote: a}]"],
            expected: ["/cfg/config.yml:1: encryption is on but no recipients are set"]),
        BadConfig(
            name: "bad encryption switch",
            lines: F.minimal + ["encryption: maybe"],
            expected: ["/cfg/config.yml:6: encryption 'maybe' is not a switch: use on or off"]),
        BadConfig(
            name: "bad recipient",
            lines: ["backend: \"mock:\"", "sources: [{local: /a, remote: a}]", "recipients: [age1qqqq]"],
            expected: ["/cfg/config.yml:3: recipients[0] 'age1qqqq' is not an age recipient"]),
        BadConfig(
            name: "secret key as recipient",
            lines: ["backend: \"mock:\"", "recipients:", "  - \(F.recipient1)", "  - AGE-SECRET-KEY-1QQQQ"],
            expected: ["/cfg/config.yml:4: recipients[1] is an age secret key, not a recipient"]),
        BadConfig(
            name: "bad compression",
            lines: ["backend: \"local:/mnt/usb\"", "recipients: [\(F.recipient1)]", "compression: fast"],
            expected: [
                "/cfg/config.yml:3: compression 'fast' is not valid: use 0 (off), 1-9 (gzip level), auto, auto:N, "
                    + "zstd (level 3) or zstd:N (1-19)"
            ]),
        BadConfig(
            name: "bad source compression",
            lines: F.minimal + ["    compression: 10"],
            expected: ["/cfg/config.yml:6: sources[0].compression '10' is not valid: use 0 (off)"]),
        BadConfig(
            name: "bad naming",
            lines: F.minimal + ["naming: plain"],
            expected: ["/cfg/config.yml:6: naming 'plain' is not valid: use opaque"]),
        BadConfig(
            name: "remote with a trailing slash",
            lines: F.minimal + ["  - local: /hdd/music", "    remote: photos/"],
            expected: ["/cfg/config.yml:7: sources[1].remote 'photos/' must not end with '/'"]),
        BadConfig(
            name: "duplicate remote",
            lines: F.minimal + ["  - local: /hdd/music", "    remote: photos"],
            expected: ["/cfg/config.yml:6: sources[1].remote 'photos' is already used by sources[0] (line 4)"]),
        BadConfig(
            name: "duplicate local",
            lines: F.minimal + ["  - local: /hdd/photos/", "    remote: pictures"],
            expected: [
                "/cfg/config.yml:6: sources[1].local '/hdd/photos' is already backed up by sources[0] (line 4)"
            ]),
        BadConfig(
            name: "source without remote",
            lines: ["backend: \"mock:\"", "recipients: [\(F.recipient1)]", "sources:", "  - local: /hdd/photos"],
            expected: ["/cfg/config.yml:4: sources[0] has no 'remote'"]),
        BadConfig(
            name: "source without local",
            lines: ["backend: \"mock:\"", "sources:", "  - remote: photos"],
            expected: ["/cfg/config.yml:3: sources[0] has no 'local'"]),
        BadConfig(
            name: "local with a tilde",
            lines: ["backend: \"mock:\"", "sources:", "  - {local: ~/photos, remote: photos}"],
            expected: ["/cfg/config.yml:3: sources[0].local '~/photos' starts with '~'"]),
        BadConfig(
            name: "empty exclude pattern",
            lines: F.minimal + ["exclude: [\"*.tmp\", \"\"]"],
            expected: ["/cfg/config.yml:6: exclude[1] must not be an empty pattern"]),
        BadConfig(
            name: "upload concurrency out of range",
            lines: F.minimal + ["baidu:", "  upload_concurrency: 32"],
            expected: ["/cfg/config.yml:7: baidu.upload_concurrency '32' is out of range: use 1 to 16"]),
        BadConfig(
            name: "endpoint that is not a URL",
            lines: F.minimal + ["baidu:", "  endpoints:", "    api: pan.baidu.com"],
            expected: ["/cfg/config.yml:8: baidu.endpoints.api 'pan.baidu.com' is not an http(s) URL"]),
        BadConfig(
            name: "empty secret key is not quoted back",
            lines: F.minimal + ["baidu: {secret_key: \"\"}"],
            expected: ["/cfg/config.yml:6: baidu.secret_key must not be empty"]),
        BadConfig(
            name: "baidu target without keys",
            lines: [
                "targets:", "  cloud: \"baidu:\"", "recipients: [\(F.recipient1)]", "sources: [{local: /a, remote: a}]",
            ],
            expected: [
                "/cfg/config.yml:1: target 'cloud' uses Baidu Netdisk but baidu.app_key is not set", "BDY_APP_KEY",
            ]),
        BadConfig(
            name: "unknown time zone",
            lines: F.minimal + ["timezone: Mars/Olympus"],
            expected: ["/cfg/config.yml:6: timezone 'Mars/Olympus' is not a known time zone: use an IANA name"]),
        BadConfig(
            name: "schedule with six fields",
            lines: F.minimal + ["schedule: \"0 0 21 * * *\""],
            expected: ["/cfg/config.yml:6: schedule '0 0 21 * * *' has 6 fields, not 5 (a seconds field"]),
        BadConfig(
            name: "unknown schedule macro",
            lines: F.minimal + ["schedule: \"@dayly\""],
            expected: ["/cfg/config.yml:6: schedule '@dayly' is not a known macro"]),
        BadConfig(
            name: "bad duration",
            lines: F.minimal + ["shutdown_timeout: 8 sec"],
            expected: ["/cfg/config.yml:6: shutdown_timeout '8 sec' is not a duration: use a number with ms, s, m or h"]
        ),
        BadConfig(
            name: "memory limit without a unit",
            lines: F.minimal + ["memory_limit: 512"],
            expected: ["/cfg/config.yml:6: memory_limit '512' is too small: use at least 1MiB"]),
        BadConfig(
            name: "bad memory limit",
            lines: F.minimal + ["memory_limit: lots"],
            expected: ["/cfg/config.yml:6: memory_limit 'lots' is not a size: use a whole number with B, KB/KiB"]),
        BadConfig(
            name: "bad window",
            lines: F.minimal + ["limits:", "  window: 25:00-07:00"],
            expected: ["/cfg/config.yml:7: limits.window '25:00-07:00' is not a time window: use HH:MM-HH:MM"]),
        BadConfig(
            name: "zero upload rate",
            lines: F.minimal + ["limits: {upload_kib_per_s: 0}"],
            expected: ["/cfg/config.yml:6: limits.upload_kib_per_s '0' is out of range: use 1 or more"]),
        BadConfig(
            name: "negative retention",
            lines: F.minimal + ["keep:", "  daily: -1"],
            expected: ["/cfg/config.yml:7: keep.daily '-1' is out of range: use 0 or more"]),
        BadConfig(
            name: "fractional retention",
            lines: F.minimal + ["keep: {last: 2.5}"],
            expected: ["/cfg/config.yml:6: keep.last '2.5' is not a whole number: use 0 or more"]),
        BadConfig(
            name: "bad log level",
            lines: F.minimal + ["log_level: verbose"],
            expected: ["/cfg/config.yml:6: log_level 'verbose' is not a log level: use one of trace, debug, info"]),
        BadConfig(
            name: "environment compression",
            lines: F.minimal,
            expected: [
                "environment variable ARCHIVER_COMPRESSION: compression 'fast' is not valid: use 0 (off), 1-9"
            ],
            environment: ["ARCHIVER_COMPRESSION": "fast"]),
        BadConfig(
            name: "environment ENCRYPT_UPLOAD",
            lines: F.minimal,
            expected: ["environment variable ENCRYPT_UPLOAD: encryption '2' is not a switch"],
            environment: ["ENCRYPT_UPLOAD": "2"]),
        BadConfig(
            name: "environment SYNC_INTERVAL",
            lines: F.minimal,
            expected: ["environment variable SYNC_INTERVAL: schedule 'every day' has 2 fields, not 5"],
            environment: ["SYNC_INTERVAL": "every day"]),
        BadConfig(
            name: "environment recipient",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_RECIPIENTS: recipients 'age1bad' is not an age recipient"],
            environment: ["ARCHIVER_RECIPIENTS": "\(F.recipient2),age1bad"]),
        BadConfig(
            name: "environment backend",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_BACKEND: backend '/mnt/usb' is not a backend spec"],
            environment: ["ARCHIVER_BACKEND": "/mnt/usb"]),
        BadConfig(
            name: "environment time zone",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_TIMEZONE: timezone 'Beijing' is not a known time zone"],
            environment: ["ARCHIVER_TIMEZONE": "Beijing"]),
        BadConfig(
            name: "environment memory limit",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_MEMORY_LIMIT: memory_limit '1T' is not a size"],
            environment: ["ARCHIVER_MEMORY_LIMIT": "1T"]),
        BadConfig(
            name: "environment log level",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_LOG_LEVEL: log_level 'loud' is not a log level"],
            environment: ["ARCHIVER_LOG_LEVEL": "loud"]),
        BadConfig(
            name: "environment naming",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_NAMING: naming 'hidden' is not valid"],
            environment: ["ARCHIVER_NAMING": "hidden"]),
        BadConfig(
            name: "environment schedule",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_SCHEDULE: schedule '@sometimes' is not a known macro"],
            environment: ["ARCHIVER_SCHEDULE": "@sometimes"]),
        BadConfig(
            name: "environment encryption",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_ENCRYPTION: encryption 'enabled' is not a switch"],
            environment: ["ARCHIVER_ENCRYPTION": "enabled"]),
        BadConfig(
            name: "environment catalog",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_CATALOG: catalog '~/c.sqlite' starts with '~'"],
            environment: ["ARCHIVER_CATALOG": "~/c.sqlite"]),
        BadConfig(
            name: "environment identity",
            lines: F.minimal,
            expected: ["environment variable ARCHIVER_IDENTITY: identity '~/key.txt' starts with '~'"],
            environment: ["ARCHIVER_IDENTITY": "~/key.txt"]),
        BadConfig(
            name: "environment app name",
            lines: F.minimal,
            expected: ["environment variable BDY_APP_NAME: baidu.app_name 'a/b' must not contain '/'"],
            environment: ["BDY_APP_NAME": "a/b"]),
        BadConfig(
            name: "environment turns encryption on without recipients",
            lines: ["backend: \"mock:\"", "sources: [{local: /a, remote: a}]"],
            expected: ["environment variable ARCHIVER_ENCRYPTION: encryption is on but no recipients are set"],
            environment: ["ARCHIVER_ENCRYPTION": "yes"]),
    ]

    @Test("a malformed config names the file, the line, the key and what is allowed", arguments: cases)
    func malformed(_ bad: BadConfig) {
        let message = F.failure(bad.lines, environment: bad.environment)
        for expected in bad.expected {
            #expect(message.contains(expected), "\(message)")
        }
        if let head = bad.expected.first, head.hasPrefix("/cfg/") || head.hasPrefix("environment") {
            #expect(message.hasPrefix(head), "\(message)")
        }
    }

    @Test("a pasted secret key never appears in the message")
    func secretNotEchoed() {
        let secret = "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSKVGVZK"
        let fromFile = F.failure(["backend: \"mock:\"", "recipients: [\(secret)]"])
        #expect(fromFile.contains("is an age secret key"))
        #expect(!fromFile.contains(secret))
        let fromEnv = F.failure(F.minimal, environment: ["ARCHIVER_RECIPIENTS": secret])
        #expect(fromEnv.hasPrefix("environment variable ARCHIVER_RECIPIENTS: recipients is an age secret key"))
        #expect(!fromEnv.contains(secret))
    }

    @Test("a recipients_file that is missing or holds a bad line is reported with both files' lines")
    func recipientsFileErrors() throws {
        let dir = try ConfigTempDir()
        let lines = ["backend: \"mock:\"", "recipients_file: keys.txt", "sources: [{local: /a, remote: a}]"]
        let config = dir.path + "/config.yml"
        let missing = try #require(throws: ArchiverError.self) {
            try ConfigLoader.parse(yaml: F.yaml(lines), path: config, environment: [:])
        }
        #expect(missing.message == "\(config):2: recipients_file '\(dir.path)/keys.txt' does not exist")

        try dir.write("keys.txt", "# keys\n\(F.recipient1)\nage1broken\n")
        let broken = try #require(throws: ArchiverError.self) {
            try ConfigLoader.parse(yaml: F.yaml(lines), path: config, environment: [:])
        }
        #expect(broken.message.hasPrefix("\(dir.path)/keys.txt:3: 'age1broken' is not an age recipient"))
        #expect(broken.message.hasSuffix("(this is the recipients_file named in \(config):2)"))
    }

    @Test("errors name the config file as the caller gave it")
    func relativeFileName() throws {
        let message = try #require(throws: ArchiverError.self) {
            try ConfigLoader.parse(yaml: "naming: x\n", path: "config.yml", environment: [:])
        }.message
        #expect(
            message == "config.yml:1: naming 'x' is not valid: use opaque (names reveal nothing) or mirror "
                + "(names follow the source tree)")
    }
}
