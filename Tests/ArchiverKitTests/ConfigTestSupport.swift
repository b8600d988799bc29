import ArchiverKit
import Foundation
import Testing

/// Shared helpers of the config tests.
enum ConfigFixtures {
    /// Recipients made with age-keygen for these tests; their secret keys were thrown away.
    static let recipient1 = "age13txk5mekhfzyjfyap3zr5ndrmk2kvxj0j6cxkkygu9fd3s3uu43srtk5yz"
    static let recipient2 = "age13qr5e2pey8gyhlnvyd987swmer6x6ac63xulzd67t64yual2qy7qz7szsk"
    static let recipient3 = "age1xq9zmt2u9mglv655tdyrf05lc2cy433vlestnxm49vzen55zxqvspgu99c"

    /// Where parsed configs pretend to live: messages start with this name, relative paths resolve to `/cfg`.
    static let path = "/cfg/config.yml"

    /// The smallest valid config, five lines, so that a case appended to it starts on line 6.
    static let minimal = [
        "backend: \"local:/mnt/usb\"",
        "recipients: [\(recipient1)]",
        "sources:",
        "  - local: /hdd/photos",
        "    remote: photos",
    ]

    /// Joins lines into a YAML text; a line's number in messages is its index plus one.
    static func yaml(_ lines: [String]) -> String { lines.joined(separator: "\n") + "\n" }

    /// Parses lines as `/cfg/config.yml`.
    static func parse(
        _ lines: [String], environment: [String: String] = [:]
    ) throws -> ConfigLoader.LoadedConfig {
        try ConfigLoader.parse(yaml: yaml(lines), path: path, environment: environment)
    }

    /// The message of the usage error that parsing `lines` must throw; records an issue when it does not throw.
    static func failure(
        _ lines: [String], environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        do {
            _ = try parse(lines, environment: environment)
            Issue.record("the config was accepted", sourceLocation: sourceLocation)
            return ""
        } catch let error as ArchiverError {
            #expect(error.code == .usage, sourceLocation: sourceLocation)
            return error.message
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return ""
        }
    }
}

/// A temporary folder, removed when the test ends.
final class ConfigTempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/config-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a file in the folder with the given mode and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }
}
