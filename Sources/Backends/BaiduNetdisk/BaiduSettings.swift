import ArchiverKit
import Foundation

/// The `baidu:` settings, decoded once into typed values and checked with messages that name the key.
struct BaiduSettings: Sendable {
    /// The app's name: files live under `/apps/<app name>/`.
    var appName: String
    var appKey: String
    var secretKey: String
    /// The OAuth token file (absolute).
    var tokenFile: String
    /// Slice buffers in existence at once, including the one being filled.
    var uploadConcurrency: Int
    /// Base URLs without a trailing slash.
    var oauthEndpoint: String
    var apiEndpoint: String
    var uploadEndpoint: String
    /// Lower limits than the account tier's, when set.
    var sliceSizeLimit: Int?
    var maxObjectSizeLimit: Int64?
    /// The config file, for the command a message tells the user to run.
    var configFile: String?
    /// The repository root: `/apps/<app name>` plus the spec's subfolder, without a trailing slash.
    var root: String
    /// How long one slice upload or one download chunk may take.
    var transferTimeout: Duration = .seconds(60)

    /// Decodes the settings the registry hands over.
    /// - Parameters:
    ///   - settings: `context.settings["baidu"]`.
    ///   - subfolder: the text after `baidu:`.
    ///   - environment: for `BDY_APP_KEY`, `BDY_SECRET_KEY` and `BDY_APP_NAME` when a key is missing.
    /// - Throws: `ArchiverError(.usage)` naming the key that is missing or wrong.
    init(
        _ settings: [String: String], subfolder: String = "",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        func required(_ key: String, _ variable: String) throws -> String {
            let value = settings[key]?.trimmingCharacters(in: .whitespaces) ?? environment[variable] ?? ""
            guard !value.isEmpty else {
                throw ArchiverError(
                    .usage, "Baidu Netdisk needs baidu.\(key): add '\(key):' to the 'baidu:' block or set \(variable)")
            }
            return value
        }
        appName = try required("app_name", "BDY_APP_NAME")
        appKey = try required("app_key", "BDY_APP_KEY")
        secretKey = try required("secret_key", "BDY_SECRET_KEY")
        guard let tokenFile = settings["token_file"], tokenFile.hasPrefix("/") else {
            throw ArchiverError(.usage, "Baidu Netdisk needs baidu.token_file, an absolute path")
        }
        self.tokenFile = tokenFile
        uploadConcurrency = try Self.integer(settings, "upload_concurrency", in: 1...16) ?? 2
        oauthEndpoint = try Self.endpoint(settings, "oauth", default: "https://openapi.baidu.com")
        apiEndpoint = try Self.endpoint(settings, "api", default: "https://pan.baidu.com")
        uploadEndpoint = try Self.endpoint(settings, "upload", default: "https://d.pcs.baidu.com")
        sliceSizeLimit = try Self.integer(settings, "slice_size", in: 1...(32 << 20))
        maxObjectSizeLimit = try Self.integer(settings, "max_object_size", in: 1...Int.max).map(Int64.init)
        configFile = settings["config_file"]
        let cleanedApp = try BaiduPaths.checkedComponent(appName, key: "baidu.app_name")
        var root = "/apps/" + cleanedApp
        for part in subfolder.split(separator: "/") {
            let key = "the folder in the spec baidu:\(subfolder)"
            root += "/" + (try BaiduPaths.checkedComponent(String(part), key: key))
        }
        self.root = root
    }

    /// The command that logs in again, for messages.
    var loginCommand: String {
        "archiver auth baidu" + (configFile.map { " --config \($0)" } ?? "")
    }

    private static func integer(_ settings: [String: String], _ key: String, in range: ClosedRange<Int>) throws
        -> Int?
    {
        guard let text = settings[key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ArchiverError(
                .usage,
                "baidu.\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    private static func endpoint(_ settings: [String: String], _ name: String, default fallback: String) throws
        -> String
    {
        let key = "endpoints.\(name)"
        var text = settings[key]?.trimmingCharacters(in: .whitespaces) ?? ""
        if text.isEmpty { text = fallback }
        while text.hasSuffix("/") { text.removeLast() }
        try checkEndpoint(text, key: "baidu.\(key)")
        return text
    }

    /// Accepts `https://` anywhere and `http://` only on this machine, where no one can listen in.
    /// - Throws: `ArchiverError(.usage)` naming `key`.
    static func checkEndpoint(_ text: String, key: String) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host else {
            throw ArchiverError(.usage, "\(key) is not a URL: '\(BaiduRedaction.redact(text))'")
        }
        switch scheme {
        case "https":
            return
        case "http" where isLoopback(host):
            return
        case "http":
            throw ArchiverError(
                .usage,
                "\(key) uses http:// with host \(host): plain HTTP is accepted only for 127.0.0.1, ::1 and "
                    + "localhost; use https://")
        default:
            throw ArchiverError(.usage, "\(key) must be an https:// URL, not '\(BaiduRedaction.redact(text))'")
        }
    }

    /// Whether a URL host names this machine.
    static func isLoopback(_ host: String) -> Bool {
        ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host.lowercased())
    }
}
