import Foundation
import Yams

/// Reads `config.yml` and the environment into an `ArchiverConfig`, and writes starter configs.
///
/// Every error is an `ArchiverError` with code `.usage` whose message starts with `file:line:` (or the
/// environment variable) and names the key and what it accepts. Unknown keys are errors, so a typo cannot
/// silently change what is backed up or how.
public enum ConfigLoader {
    /// A loaded configuration and the warnings found while loading it.
    public struct LoadedConfig: Sendable {
        /// The configuration.
        public var config: ArchiverConfig
        /// Things worth telling the user that do not stop the program (a secret in a world-readable file).
        public var warnings: [String]

        /// Creates a loaded configuration.
        /// - Parameters:
        ///   - config: the configuration.
        ///   - warnings: the warnings.
        public init(config: ArchiverConfig, warnings: [String] = []) {
            self.config = config
            self.warnings = warnings
        }
    }

    /// The environment variables read after the file, each overriding its key. The `BDY_*`, `ENCRYPT_UPLOAD`
    /// and `SYNC_INTERVAL` names are the original tool's, so its Docker setups keep working.
    public static let environmentVariables = ConfigEnvironment.variables.map(\.name)

    /// Reads and checks a config file, then applies the environment.
    ///
    /// - Parameters:
    ///   - path: the config file; relative paths in it are resolved against its folder.
    ///   - environment: the process environment (`ProcessInfo.processInfo.environment`); empty values count as
    ///     unset.
    /// - Returns: the configuration and any warnings.
    /// - Throws: `ArchiverError(.usage)` naming the file, line and key, or the variable.
    public static func load(path: String, environment: [String: String]) throws -> LoadedConfig {
        let yaml: String
        switch ConfigFile.readText(path) {
        case .success(let text): yaml = text
        case .failure(let reason):
            let hint = FileManager.default.fileExists(atPath: path) ? "" : "; 'archiver init' writes a starter config"
            throw ArchiverError(.usage, "\(path): the config file \(reason.text)\(hint)", cause: nil)
        }
        var (loaded, secretKeyInFile) = try decode(yaml: yaml, path: path, environment: environment)
        loaded.config.configFile = path
        if secretKeyInFile, let mode = permissions(of: path), mode & 0o044 != 0 {
            loaded.warnings.insert(
                "\(path) holds baidu.secret_key and can be read by group or others (mode "
                    + "\(String(mode & 0o777, radix: 8))): run 'chmod 600 \(path)', or pass the key in the "
                    + "BDY_SECRET_KEY environment variable instead",
                at: 0)
        }
        return loaded
    }

    /// Checks a config given as text, then applies the environment; `load` without the file system check of the
    /// config file's own mode.
    ///
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - path: where the file is (or would be): relative paths resolve against its folder, and messages name it.
    ///   - environment: the variables to apply; empty values count as unset.
    /// - Returns: the configuration and any warnings.
    /// - Throws: `ArchiverError(.usage)` naming the file, line and key, or the variable.
    public static func parse(yaml: String, path: String, environment: [String: String]) throws -> LoadedConfig {
        try decode(yaml: yaml, path: path, environment: environment).loaded
    }

    private static func decode(
        yaml: String, path: String, environment: [String: String]
    ) throws -> (loaded: LoadedConfig, secretKeyInFile: Bool) {
        let reporter = ConfigReporter(file: path)
        let configPath = ConfigValue.normalized(
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
        let base = (configPath as NSString).deletingLastPathComponent
        let root: Node?
        do {
            // The basic resolver: values are typed by ConfigDecoder, and Yams's default one compiles regular
            // expressions through ICU, which costs every command about 2 MiB of resident memory.
            root = try Yams.compose(yaml: yaml, .basic)
        } catch let error as YamlError {
            throw syntaxError(error, yaml: yaml, reporter: reporter)
        }
        var draft = try ConfigDecoder(reporter: reporter, base: base).decode(root)
        try ConfigEnvironment.apply(environment, to: &draft, base: base, reporter: reporter)
        let config = try draft.build(configPath: configPath, base: base, reporter: reporter)

        var warnings: [String] = []
        // Only TZ can bring a note; without it the system's zone (and ICU's tables) need not be loaded here.
        if config.timeZone == nil, environment["TZ"] != nil,
            let note = config.scheduleZone(environment: environment).note
        {
            warnings.append(note)
        }
        if let identity = config.identity, FileManager.default.isReadableFile(atPath: identity) {
            warnings.append(
                "note: identity '\(identity)' is readable here. Backups only need the recipients; the secret key "
                    + "is needed only to restore and for a deep verify, so keep it off the NAS (for example on a "
                    + "USB stick you plug in for a restore) and leave 'identity' out of the daemon's config")
        }
        return (LoadedConfig(config: config, warnings: warnings), draft.secretKeyInFile)
    }

    /// A YAML syntax error as a config error with the line, and a hint for the usual causes.
    private static func syntaxError(_ error: YamlError, yaml: String, reporter: ConfigReporter) -> ArchiverError {
        let line: Int
        let problem: String
        switch error {
        case .scanner(let context, let text, let mark, _), .parser(let context, let text, let mark, _),
            .composer(let context, let text, let mark, _):
            line = mark.line
            problem = text + (context.map { " (\($0.text) on line \($0.mark.line))" } ?? "")
        case .reader(let text, let offset, _, _):
            line = offset.map { yaml.prefix($0).count(where: { $0 == "\n" }) + 1 } ?? 1
            problem = text
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return reporter.error(
                line: context.mark.line, "key \(keys) appears more than once in the same block: keep one")
        default:
            line = 1
            problem = "\(error)"
        }
        var message = "YAML syntax error: \(problem)"
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        if line >= 1, line <= lines.count {
            let text = lines[line - 1]
            if problem.contains("mapping values are not allowed") {
                message += "; put values that contain ': ' or end with ':' in quotes, e.g. backend: \"baidu:\""
            } else if text.hasPrefix("\t") || text.contains(":\t") {
                message += "; YAML does not allow tabs for indentation: use spaces"
            } else if text.contains(": @") || text.contains(": *") || text.contains(": `") || text.contains(": %")
                || text.contains(": &") || text.contains(": !")
            {
                message += "; put values that start with @, *, &, !, % or ` in quotes, e.g. schedule: \"@daily\""
            }
        }
        return reporter.error(line: line, message)
    }

    private static func permissions(of path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }
}
