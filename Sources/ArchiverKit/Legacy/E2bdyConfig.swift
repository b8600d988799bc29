import Foundation
import Yams

/// The settings encrypt2bdy ran with, read from its `config.yml` and the container's environment as the original
/// did (the variables win over the file), and turned into an archiver config (`archiver import-e2bdy`).
///
/// The original wrote its settings and the Baidu tokens back into the YAML on every start, so the file holds what
/// it last ran with; a variable set now overrides it, as it would have then.
public struct E2bdyConfig: Sendable, Equatable {
    /// One `SYNC_PATH` entry.
    public struct Mapping: Sendable, Equatable {
        /// The folder backed up (absolute).
        public var local: String
        /// Its folder on Baidu, under the app folder.
        public var remote: String

        /// Creates a mapping.
        /// - Parameters:
        ///   - local: the folder backed up.
        ///   - remote: its folder on Baidu.
        public init(local: String, remote: String) {
            self.local = local
            self.remote = remote
        }
    }

    /// The Baidu login the original saved (`BDY_USER_*`).
    public struct Tokens: Sendable, Equatable {
        /// `BDY_USER_ACCESS_TOKEN`.
        public var accessToken: String
        /// `BDY_USER_REFRESH_TOKEN`.
        public var refreshToken: String
        /// `BDY_USER_TOKEN_OUTDATE`, unix seconds.
        public var expiresAt: Int64

        /// Creates a login.
        /// - Parameters:
        ///   - accessToken: the access token.
        ///   - refreshToken: the refresh token.
        ///   - expiresAt: the access token's expiry, unix seconds.
        public init(accessToken: String, refreshToken: String, expiresAt: Int64) {
            self.accessToken = accessToken
            self.refreshToken = refreshToken
            self.expiresAt = expiresAt
        }
    }

    /// `BDY_APP_KEY`.
    public var appKey: String
    /// `BDY_SECRET_KEY`.
    public var secretKey: String
    /// `BDY_APP_NAME`: files lived under `/apps/<app name>/`.
    public var appName: String
    /// The saved login, when there is one.
    public var tokens: Tokens?
    /// `ENCRYPT_UPLOAD`.
    public var encrypted: Bool
    /// Whether `USER_PASSKEY` was set: then the `.e2bdy` files are AES Crypt and need that passphrase.
    public var hasPasskey: Bool
    /// `SYNC_INTERVAL` as a 5-field cron expression.
    public var schedule: String
    /// `SYNC_PATH`.
    public var mappings: [Mapping]
    /// What the user should know about how something was carried over.
    public var notes: [String]

    /// The original's default schedule, run in Beijing time.
    static let defaultSchedule = "0 21 * * *"
    /// The time zone the original's scheduler used, whatever the container's.
    public static let timeZone = "Asia/Shanghai"

    /// Reads the original's config.
    /// - Parameters:
    ///   - yaml: the text of encrypt2bdy's `config/config.yml`.
    ///   - file: its path, for messages and to resolve relative `local` folders (the original ran in the folder
    ///     above `config/`).
    ///   - environment: the container's variables (`BDY_*`, `SYNC_INTERVAL`, `ENCRYPT_UPLOAD`, `SYNC_PATH`,
    ///     `USER_PASSKEY`); empty values count as unset, as they did for the original.
    /// - Throws: `ArchiverError(.usage)` naming the file and line (or the variable) and the key.
    public static func parse(yaml: String, file: String, environment: [String: String]) throws -> E2bdyConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ArchiverError(.usage, "\(file): not valid YAML (\(error)); is it encrypt2bdy's config.yml?")
        }
        guard let mapping = root?.mapping else {
            throw ArchiverError(.usage, "\(file): expected encrypt2bdy's config.yml, a YAML mapping with SYNC_PATH")
        }
        var values: [String: Node] = [:]
        for (key, value) in mapping {
            if let name = key.string { values[name] = value }
        }
        let reader = Reader(file: file, values: values, environment: environment)
        var notes: [String] = []

        let appKey = try reader.required("BDY_APP_KEY")
        let secretKey = try reader.required("BDY_SECRET_KEY")
        var appName = reader.text("BDY_APP_NAME") ?? ""
        if appName.isEmpty {
            appName = "e2bdy"
            notes.append(
                "BDY_APP_NAME is set neither in \(file) nor in the environment; using e2bdy (the image's default)")
        }
        guard !appName.contains("/") else { throw reader.error("BDY_APP_NAME", "'\(appName)' must not contain '/'") }

        let encryptText = reader.text("ENCRYPT_UPLOAD") ?? "0"
        let encrypted: Bool
        switch encryptText.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true", "on", "yes": encrypted = true
        case "0", "false", "off", "no": encrypted = false
        default: throw reader.error("ENCRYPT_UPLOAD", "'\(encryptText)' is not 1 or 0")
        }

        let schedule = try Self.schedule(reader: reader, notes: &notes)
        let tokens = try Self.tokens(reader: reader, notes: &notes)
        let hasPasskey = !(reader.text("USER_PASSKEY") ?? "").isEmpty
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        let base = ConfigValue.normalized(
            ((absolute as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent)
        let mappings = try Self.mappings(reader: reader, base: base, notes: &notes)
        return E2bdyConfig(
            appKey: appKey, secretKey: secretKey, appName: appName, tokens: tokens, encrypted: encrypted,
            hasPasskey: hasPasskey, schedule: schedule, mappings: mappings, notes: notes)
    }

    /// The original's remote-path rule (`is_valid_remote_path`): no leading `/` or `.`, no trailing `/`, no `./`
    /// and no `//` anywhere. It exited on a path that broke it, and so does the import.
    /// - Parameter remote: the path.
    /// - Returns: what is wrong, or nil.
    static func remoteProblem(_ remote: String) -> String? {
        if remote.isEmpty { return "is empty" }
        if remote.hasPrefix("/") { return "must not start with '/'" }
        if remote.hasPrefix(".") { return "must not start with '.' (or './')" }
        if remote.hasSuffix("/") { return "must not end with '/'" }
        if remote.contains("./") { return "must not contain './'" }
        if remote.contains("//") { return "must not contain '//'" }
        do throws(ValueProblem) {
            _ = try ConfigValue.remotePath(remote)
        } catch {
            return error.text
        }
        return nil
    }

    // MARK: - Keys

    private static func schedule(reader: Reader, notes: inout [String]) throws -> String {
        guard let text = reader.text("SYNC_INTERVAL")?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return defaultSchedule
        }
        if let seconds = Int(text) {
            // The first releases took seconds between runs; cron cannot say "every N seconds from start", so the
            // nearest aligned schedule is used.
            let cron: String
            switch seconds {
            case 60..<3600 where seconds % 60 == 0 && 60 % (seconds / 60) == 0: cron = "*/\(seconds / 60) * * * *"
            case 3600..<86_400 where seconds % 3600 == 0 && 24 % (seconds / 3600) == 0:
                cron = "0 */\(seconds / 3600) * * *"
            case 86_400: cron = "0 0 * * *"
            default:
                throw reader.error(
                    "SYNC_INTERVAL",
                    "'\(text)' seconds has no cron equivalent: write a 5-field cron expression, e.g. '0 21 * * *'")
            }
            notes.append("SYNC_INTERVAL \(text) (seconds, from an early release) became the schedule '\(cron)'")
            return cron
        }
        do throws(ValueProblem) {
            return try ConfigValue.schedule(text)
        } catch {
            throw reader.error("SYNC_INTERVAL", "'\(text)' \(error.text)")
        }
    }

    private static func tokens(reader: Reader, notes: inout [String]) throws -> Tokens? {
        let access = reader.text("BDY_USER_ACCESS_TOKEN", environment: false) ?? ""
        let refresh = reader.text("BDY_USER_REFRESH_TOKEN", environment: false) ?? ""
        guard !refresh.isEmpty else {
            notes.append(
                "\(reader.file) holds no Baidu login (BDY_USER_REFRESH_TOKEN is empty): log in once with "
                    + "'archiver auth baidu'")
            return nil
        }
        let outdate = reader.text("BDY_USER_TOKEN_OUTDATE", environment: false) ?? "0"
        guard let seconds = Double(outdate), seconds.isFinite, seconds >= 0, seconds < 1e11 else {
            throw reader.error("BDY_USER_TOKEN_OUTDATE", "'\(outdate)' is not a unix time")
        }
        return Tokens(accessToken: access, refreshToken: refresh, expiresAt: Int64(seconds))
    }

    private static func mappings(reader: Reader, base: String, notes: inout [String]) throws -> [Mapping] {
        let entries: [(local: String, remote: String, place: String)]
        if let variable = reader.environment["SYNC_PATH"], !variable.trimmingCharacters(in: .whitespaces).isEmpty {
            entries = try environmentMappings(variable)
        } else {
            guard let node = reader.values["SYNC_PATH"], let list = node.sequence, !list.isEmpty else {
                throw reader.error("SYNC_PATH", "is missing or empty: encrypt2bdy had nothing to back up")
            }
            entries = try list.enumerated().map { index, item in
                let line = (item.mark?.line ?? 0)
                let place = "\(reader.file):\(line): SYNC_PATH entry \(index + 1)"
                guard let pairs = item.mapping else {
                    throw ArchiverError(.usage, "\(place): expected 'local:' and 'remote:'")
                }
                var local: String?
                var remote: String?
                for (key, value) in pairs {
                    switch key.string {
                    case "local": local = value.string
                    case "remote": remote = value.string
                    default: break
                    }
                }
                guard let local, !local.isEmpty else { throw ArchiverError(.usage, "\(place): 'local' is missing") }
                guard let remote else { throw ArchiverError(.usage, "\(place): 'remote' is missing") }
                return (local, remote, place)
            }
        }
        var result: [Mapping] = []
        for entry in entries {
            if let problem = remoteProblem(entry.remote) {
                throw ArchiverError(
                    .usage,
                    "\(entry.place): remote '\(entry.remote)' \(problem) (encrypt2bdy refused it too): write a folder "
                        + "name such as 'photos' or 'backup/photos'")
            }
            var local = entry.local
            while local.count > 1, local.hasSuffix("/") { local.removeLast() }
            if !local.hasPrefix("/") {
                let resolved = ConfigValue.normalized(base + "/" + local)
                notes.append(
                    "local '\(entry.local)' is relative; encrypt2bdy resolved it from \(base), so it is \(resolved)")
                local = resolved
            }
            result.append(Mapping(local: local, remote: entry.remote))
        }
        return result
    }

    /// `SYNC_PATH` given as a variable: a YAML (or JSON) list like the file's, or `LOCAL=REMOTE` pairs separated
    /// by commas.
    private static func environmentMappings(_ text: String) throws -> [(local: String, remote: String, place: String)] {
        let place = "environment variable SYNC_PATH"
        if let list = (try? Yams.compose(yaml: text))?.sequence {
            return try list.enumerated().map { index, item in
                guard let local = item["local"]?.string, let remote = item["remote"]?.string else {
                    throw ArchiverError(.usage, "\(place): entry \(index + 1) needs 'local' and 'remote'")
                }
                return (local, remote, "\(place), entry \(index + 1)")
            }
        }
        return try text.split(separator: ",").enumerated().map { index, pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ArchiverError(
                    .usage, "\(place): '\(pair)' is not LOCAL=REMOTE (or give a YAML list of local/remote entries)")
            }
            return (parts[0], parts[1], "\(place), entry \(index + 1)")
        }
    }

    /// Reads a key from the environment first, then the file, and words errors with the place it came from.
    private struct Reader {
        let file: String
        let values: [String: Node]
        let environment: [String: String]

        func text(_ key: String, environment useEnvironment: Bool = true) -> String? {
            if useEnvironment, let value = environment[key], !value.trimmingCharacters(in: .whitespaces).isEmpty {
                return value
            }
            return values[key]?.scalar?.string
        }

        func required(_ key: String) throws -> String {
            guard let value = text(key)?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw ArchiverError(
                    .usage,
                    "\(file): \(key) is empty there and not set in the environment; encrypt2bdy needed it too: set "
                        + "the variable as its container did (docker inspect shows it)")
            }
            return value
        }

        func error(_ key: String, _ message: String) -> ArchiverError {
            if let value = environment[key], !value.trimmingCharacters(in: .whitespaces).isEmpty {
                return ArchiverError(.usage, "environment variable \(key): \(message)")
            }
            guard let line = values[key]?.mark?.line else { return ArchiverError(.usage, "\(file): \(key) \(message)") }
            return ArchiverError(.usage, "\(file):\(line): \(key) \(message)")
        }
    }
}
