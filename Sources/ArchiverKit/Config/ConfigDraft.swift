import Age
import Foundation
import Logging

/// Where a setting came from, so an error about it can point there.
enum ConfigOrigin: Sendable {
    /// A line of the config file.
    case file(line: Int)
    /// An environment variable.
    case environment(String)
}

/// Builds the error messages: every one starts with the file and line (or the variable) it is about.
struct ConfigReporter: Sendable {
    /// The config file as the user named it, for messages.
    let file: String

    /// An error about a line of the config file.
    func error(line: Int, _ message: String) -> ArchiverError {
        ArchiverError(.usage, "\(file):\(line): \(message)")
    }

    /// An error about a setting wherever it came from.
    func error(_ origin: ConfigOrigin, _ message: String) -> ArchiverError {
        switch origin {
        case .file(let line): error(line: line, message)
        case .environment(let name): ArchiverError(.usage, "environment variable \(name): \(message)")
        }
    }

    /// An error about a value that a parser refused: `key 'value' problem`, without the value if it may be a
    /// secret.
    func error(_ origin: ConfigOrigin, key: String, value: String, _ problem: ValueProblem) -> ArchiverError {
        guard problem.showsValue else { return error(origin, "\(key) \(problem.text)") }
        return error(origin, "\(key) '\(Self.shown(value))' \(problem.text)")
    }

    /// A value as quoted in a message: one line, and not so long that the message gets lost.
    static func shown(_ value: String) -> String {
        let oneLine = value.replacingOccurrences(of: "\n", with: "\\n")
        return oneLine.count > 80 ? String(oneLine.prefix(77)) + "..." : oneLine
    }
}

/// One entry of `sources:` as written, before the global defaults are merged in.
struct SourceDraft: Sendable {
    var local: String
    var remote: String
    var exclude: [String]
    var compression: CompressionMode?
    var keep: ArchiverConfig.Retention
    var line: Int
}

/// The `baidu:` block as written, before its defaults are filled in.
struct BaiduDraft: Sendable {
    var appName: String?
    var appKey: String?
    var secretKey: String?
    var tokenFile: String?
    var uploadConcurrency: Int?
    var sliceSize: Int?
    var maxObjectSize: Int64?
    var endpoints = ArchiverConfig.Baidu.Endpoints()
    var origin: ConfigOrigin
}

/// The settings read so far, from the file and then the environment; `build` checks what involves several
/// settings and fills in the defaults.
struct ConfigDraft: Sendable {
    var rootLine = 1
    var catalog: String?
    var targets: [ArchiverConfig.Target] = []
    var targetsOrigin: ConfigOrigin?
    var copies: Int?
    var copiesOrigin: ConfigOrigin?
    var recipients: [X25519Recipient] = []
    var recipientsOrigin: ConfigOrigin?
    var recipientsFile: String?
    var recipientsFileLine: Int?
    var identity: String?
    var encryption: Bool?
    var encryptionOrigin: ConfigOrigin?
    var compression: CompressionMode?
    var naming: ArchiverConfig.Naming?
    var exclude: [String] = []
    var sources: [SourceDraft] = []
    var sourcesOrigin: ConfigOrigin?
    var baidu: BaiduDraft?
    var schedule: CronSchedule?
    var timeZone: TimeZone?
    var shutdownTimeout: Duration?
    var memoryLimit: ArchiverConfig.MemoryLimit?
    var filesInFlight: Int?
    var limits = ArchiverConfig.Limits()
    var keep = ArchiverConfig.Retention()
    var logLevel: Logger.Level?
    var logFile: String?
    /// True when the file itself (not the environment) holds `baidu.secret_key`, which makes its mode matter.
    var secretKeyInFile = false

    /// Checks the rules that span settings and fills in the defaults.
    /// - Parameters:
    ///   - configPath: the config file, absolute.
    ///   - base: its folder.
    ///   - reporter: builds the messages.
    /// - Returns: the finished configuration.
    /// - Throws: `ArchiverError(.usage)` naming the line or variable concerned.
    func build(configPath: String, base: String, reporter: ConfigReporter) throws -> ArchiverConfig {
        let whereTargets = targetsOrigin ?? .file(line: rootLine)
        guard !targets.isEmpty else {
            throw reporter.error(
                whereTargets,
                "no target: add 'backend: \"local:/mnt/usb/archive\"' for one target or a 'targets:' mapping "
                    + "(name: spec) for several, or set ARCHIVER_BACKEND")
        }
        if let copies, copies > targets.count {
            let allowed = targets.count == 1 ? "use 1, or add targets" : "use 1 to \(targets.count)"
            let noun = targets.count == 1 ? "target" : "targets"
            throw reporter.error(
                copiesOrigin ?? whereTargets,
                "copies \(copies) is more than the \(targets.count) \(noun) configured: \(allowed)")
        }
        guard !sources.isEmpty else {
            throw reporter.error(
                sourcesOrigin ?? .file(line: rootLine),
                "no sources: add a 'sources:' list with at least one entry with 'local:' (the folder to back up) "
                    + "and 'remote:' (its folder on the target), e.g. '- {local: /hdd/photos, remote: photos}'")
        }

        var allRecipients = recipients
        if let recipientsFile {
            let line = recipientsFileLine ?? rootLine
            for recipient in try Self.readRecipients(recipientsFile, line: line, reporter: reporter)
            where !allRecipients.contains(recipient) {
                allRecipients.append(recipient)
            }
        }
        let encrypts = encryption ?? true
        if encrypts, allRecipients.isEmpty {
            throw reporter.error(
                encryptionOrigin ?? recipientsOrigin ?? .file(line: rootLine),
                "encryption is on but no recipients are set. Make a key with "
                    + "'archiver key generate --output key.txt' and keep key.txt off this machine (only a restore "
                    + "needs it); put the age1… public key it prints under 'recipients:' in this file (or in a "
                    + "recipients_file, or in ARCHIVER_RECIPIENTS). To store files unencrypted, set 'encryption: off'")
        }

        for target in targets where target.scheme == "baidu" {
            let needed: [(key: String, variable: String, value: String?)] = [
                ("app_key", "BDY_APP_KEY", baidu?.appKey),
                ("secret_key", "BDY_SECRET_KEY", baidu?.secretKey),
                ("app_name", "BDY_APP_NAME", baidu?.appName),
            ]
            for item in needed where item.value == nil {
                throw reporter.error(
                    whereTargets,
                    "target '\(target.name)' uses Baidu Netdisk but baidu.\(item.key) is not set: add '\(item.key):' "
                        + "to the 'baidu:' block or set \(item.variable)")
            }
        }

        let compression = self.compression ?? .auto(level: CompressionMode.defaultAutoLevel)
        var config = ArchiverConfig(
            configPath: configPath,
            targets: targets,
            sources: sources.map { draft in
                var merged = exclude
                for pattern in draft.exclude where !merged.contains(pattern) { merged.append(pattern) }
                return ArchiverConfig.Source(
                    local: draft.local,
                    remote: draft.remote,
                    exclude: merged,
                    compression: draft.compression ?? compression,
                    keep: keep.overlaid(with: draft.keep))
            },
            recipients: allRecipients,
            encryption: encrypts,
            copies: copies,
            catalog: catalog,
            naming: naming,
            compression: compression)
        config.baseDirectory = base
        config.recipientsFile = recipientsFile
        config.identity = identity
        config.exclude = exclude
        config.baidu = baidu.map { draft in
            ArchiverConfig.Baidu(
                appName: draft.appName,
                appKey: draft.appKey,
                secretKey: draft.secretKey,
                tokenFile: draft.tokenFile ?? ConfigValue.normalized(base + "/baidu-token.json"),
                uploadConcurrency: draft.uploadConcurrency ?? ArchiverConfig.Baidu.defaultUploadConcurrency,
                sliceSize: draft.sliceSize, maxObjectSize: draft.maxObjectSize,
                endpoints: draft.endpoints)
        }
        config.cronSchedule = schedule ?? ArchiverConfig.defaultCronSchedule
        config.timeZone = timeZone
        config.shutdownTimeout = shutdownTimeout ?? ArchiverConfig.defaultShutdownTimeout
        config.memoryLimit = memoryLimit
        config.filesInFlight = filesInFlight
        config.limits = limits
        config.keep = keep
        config.logLevel = logLevel ?? .info
        config.logFile = logFile
        return config
    }

    /// Reads a recipients file: one `age1…` per line; blank lines and lines starting with `#` are skipped.
    static func readRecipients(_ path: String, line: Int, reporter: ConfigReporter) throws -> [X25519Recipient] {
        let text: String
        switch ConfigFile.readText(path) {
        case .success(let t): text = t
        case .failure(let reason):
            throw reporter.error(line: line, "recipients_file '\(path)' \(reason.text)")
        }
        var found: [X25519Recipient] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let entry = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if entry.isEmpty || entry.hasPrefix("#") { continue }
            do throws(ValueProblem) {
                found.append(try ConfigValue.recipient(entry))
            } catch {
                let quoted = error.showsValue ? "'\(ConfigReporter.shown(entry))' " : ""
                throw ArchiverError(
                    .usage,
                    "\(path):\(index + 1): \(quoted)\(error.text) (this is the recipients_file named in "
                        + "\(reporter.file):\(line))")
            }
        }
        return found
    }
}

/// Small file helpers whose failures read well in a config message.
enum ConfigFile {
    /// Reads a UTF-8 text file.
    /// - Parameter path: the file.
    /// - Returns: its text, or why it could not be read, phrased to follow the path in a message.
    static func readText(_ path: String) -> Result<String, ValueProblem> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(ValueProblem("does not exist"))
        }
        guard !isDirectory.boolValue else { return .failure(ValueProblem("is a folder, not a file")) }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ValueProblem("cannot be read by this user (check its permissions)"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ValueProblem("is not UTF-8 text"))
        }
        return .success(text)
    }
}
