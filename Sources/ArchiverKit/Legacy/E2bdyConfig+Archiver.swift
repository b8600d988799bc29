import Foundation

extension E2bdyConfig {
    /// Where the imported setup goes and what it encrypts to: the choices the original config cannot make.
    public struct Destination: Sendable {
        /// The new config file (absolute).
        public var configPath: String
        /// `baidu.token_file` (absolute).
        public var tokenFile: String
        /// The catalog (absolute).
        public var catalog: String
        /// `age1…` recipients; needed when the original encrypted.
        public var recipients: [String]
        /// The folder under `/apps/<app name>/` for archiver's repository, so it stays apart from the original's
        /// `<remote>/…` folders of `.e2bdy` files.
        public var subfolder: String

        /// Creates a destination.
        /// - Parameters:
        ///   - configPath: the new config file (absolute).
        ///   - tokenFile: the token file (absolute).
        ///   - catalog: the catalog (absolute).
        ///   - recipients: `age1…` recipients.
        ///   - subfolder: the repository's folder under the app folder; empty for the app folder itself.
        public init(configPath: String, tokenFile: String, catalog: String, recipients: [String], subfolder: String) {
            self.configPath = configPath
            self.tokenFile = tokenFile
            self.catalog = catalog
            self.recipients = recipients
            self.subfolder = subfolder
        }
    }

    /// The archiver config that does what the original did: the same folders to the same Baidu app, on the same
    /// schedule in Beijing time, encrypted (to age recipients) when the original encrypted. It is checked with
    /// `ConfigLoader` before it is returned, so it loads as written.
    /// - Parameters:
    ///   - destination: paths and recipients.
    ///   - source: the original config file, named in the header comment.
    /// - Returns: the config's text.
    /// - Throws: `ArchiverError(.usage)` when encryption is on without recipients or an argument is invalid.
    public func archiverConfig(_ destination: Destination, source: String) throws -> String {
        if encrypted, destination.recipients.isEmpty {
            throw ArchiverError(
                .usage, "encrypt2bdy encrypted (ENCRYPT_UPLOAD=1), so the new config needs an age recipient")
        }
        let q = ConfigLoader.quoted
        var lines = [
            "# archiver configuration, imported from encrypt2bdy's \(source) by 'archiver import-e2bdy'.",
            "# Environment variables (BDY_*, ENCRYPT_UPLOAD, SYNC_INTERVAL, ARCHIVER_*) still override these keys.",
            "",
            "catalog: \(q(destination.catalog))",
            "",
            "# Baidu Netdisk, the same app as before. The repository lives in its own folder under",
            "# /apps/\(appName)/, apart from encrypt2bdy's .e2bdy files, which stay where they are.",
            "backend: \(q("baidu:" + destination.subfolder))",
            "baidu:",
            "  app_name: \(q(appName))",
            "  app_key: \(q(appKey))",
            "  secret_key: \(q(secretKey))",
            "  token_file: \(q(destination.tokenFile))",
            "",
        ]
        if encrypted {
            lines += [
                "# ENCRYPT_UPLOAD was on: files are encrypted with age to these public keys. The matching",
                "# identity (secret key) is needed only to restore: keep it off this machine.",
                "encryption: on",
                "recipients:",
            ]
            lines += destination.recipients.map { "  - \(q($0.trimmingCharacters(in: .whitespaces)))" }
        } else {
            lines += [
                "# ENCRYPT_UPLOAD was off. To encrypt, make a key with 'archiver key generate --output key.txt',",
                "# list its age1… public key under recipients and set encryption: on.",
                "encryption: off",
                "recipients: []",
            ]
        }
        lines += ["", "# SYNC_PATH", "sources:"]
        for mapping in mappings {
            lines += ["  - local: \(q(mapping.local))", "    remote: \(q(mapping.remote))"]
        }
        lines += [
            "",
            "# SYNC_INTERVAL, in Beijing time as encrypt2bdy ran it.",
            "schedule: \(q(schedule))",
            "timezone: \(Self.timeZone)",
        ]
        let text = lines.joined(separator: "\n") + "\n"
        _ = try ConfigLoader.parse(yaml: text, path: destination.configPath, environment: [:])
        return text
    }
}
