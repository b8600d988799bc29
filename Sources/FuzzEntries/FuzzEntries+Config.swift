import ArchiverKit

extension FuzzEntries {
    /// Where the fuzzed config claims to live: a folder that does not exist, so relative paths in it lead nowhere.
    static let configPath = "/nonexistent/archiver-fuzz/config.yml"

    /// The config loader: YAML text, then environment overrides.
    ///
    /// The bytes before the first NUL are the file's text; the lines after it are `NAME=value` variables. Invariant:
    /// every refusal is an `ArchiverError` with code `.usage`, as `ConfigLoader` promises.
    /// - Parameter input: arbitrary bytes.
    public static func config(_ input: UnsafeRawBufferPointer) {
        let parts = input.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let yaml = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        var environment: [String: String] = [:]
        if parts.count > 1 {
            for line in parts[1].split(separator: UInt8(ascii: "\n")) {
                let pair = line.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                environment[String(decoding: pair[0], as: UTF8.self)] = String(decoding: pair[1], as: UTF8.self)
            }
        }
        do {
            _ = try ConfigLoader.parse(yaml: yaml, path: configPath, environment: environment)
        } catch let error as ArchiverError {
            precondition(error.code == .usage, "a config refusal with code \(error.code): \(error)")
        } catch {
            preconditionFailure("the config loader threw \(type(of: error)), not an ArchiverError: \(error)")
        }
    }
}
