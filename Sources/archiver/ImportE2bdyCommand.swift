import Age
import ArchiverKit
import ArgumentParser
import Backends
import CShims
import Foundation

/// `archiver import-e2bdy`: turns encrypt2bdy's config.yml (and its container's variables) into an archiver config
/// and token file, so the same folders go to the same Baidu app on the same schedule, with no new login.
struct ImportE2bdyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-e2bdy",
        abstract: "Import encrypt2bdy's config.yml: folders, Baidu app, schedule, encryption and its saved login.",
        discussion: """
            Reads SYNC_PATH, BDY_APP_KEY, BDY_SECRET_KEY, BDY_APP_NAME, ENCRYPT_UPLOAD and SYNC_INTERVAL from the \
            file, with the variables of the same names overriding it as they did in the original's container. The \
            saved Baidu tokens go to the token file (mode 0600) in the form `archiver auth baidu` writes; the new \
            config (mode 0600) uses timezone Asia/Shanghai, the original's. When ENCRYPT_UPLOAD was on, files are \
            encrypted with age: give --recipient, or a new identity is written to --identity-out. Stop the old \
            container first: Baidu refresh tokens are single-use, so the two tools must not both refresh.
            """)

    @Argument(help: "encrypt2bdy's config file (config/config.yml).")
    var original: String

    @Option(name: .shortAndLong, help: "The new config file (default: archiver.yml beside the original).")
    var output: String?

    @Option(help: "The Baidu token file to write (default: baidu-token.json beside the new config).")
    var tokenFile: String?

    @Option(help: "The catalog (default: catalog.sqlite beside the new config).")
    var catalog: String?

    @Option(name: .customLong("recipient"), help: "An age recipient to encrypt to. Repeatable.")
    var recipients: [String] = []

    @Option(help: "When encrypting and no --recipient: write a new identity here (default: beside the config).")
    var identityOut: String?

    @Option(help: "The repository's folder under /apps/<app name>/, apart from the old .e2bdy files.")
    var subfolder = "archiver"

    @Flag(help: "Replace an existing config or token file.")
    var force = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let originalPath = absolute(original)
        let text: String
        do {
            text = try KeyFiles.readSmallTextFile(originalPath, what: "encrypt2bdy config")
        } catch let error as ArchiverError {
            throw ArchiverError(.usage, error.message, subject: original)
        }
        let legacy = try E2bdyConfig.parse(yaml: text, file: original, environment: environment)

        let outPath = absolute(output ?? ((originalPath as NSString).deletingLastPathComponent + "/archiver.yml"))
        let folder = (outPath as NSString).deletingLastPathComponent
        let tokenPath = absolute(tokenFile ?? folder + "/baidu-token.json")
        for path in [outPath] + (legacy.tokens == nil ? [] : [tokenPath]) where !force {
            if FileManager.default.fileExists(atPath: path) {
                throw ArchiverError(.usage, "\(path) already exists; choose another path or pass --force to replace it")
            }
        }
        var newIdentity: (X25519Identity, String)?
        var recipients = recipients
        if legacy.encrypted && recipients.isEmpty {
            let path = absolute(identityOut ?? folder + "/archiver-key.txt")
            let identity = X25519Identity.generate()
            newIdentity = (identity, path)
            recipients = [identity.recipient.description]
        }
        let destination = E2bdyConfig.Destination(
            configPath: outPath, tokenFile: tokenPath, catalog: absolute(catalog ?? folder + "/catalog.sqlite"),
            recipients: recipients, subfolder: subfolder)
        let config = try legacy.archiverConfig(destination, source: original)

        // Everything is checked; now write: the identity first (it refuses an existing file), then tokens, config.
        if let (identity, path) = newIdentity { try KeyFiles.writeIdentity(identity, to: path) }
        if let tokens = legacy.tokens {
            try await BaiduLogin.importTokens(
                accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt,
                tokenFile: tokenPath)
        }
        try writeConfig(config, to: outPath)
        let loaded = try ConfigLoader.load(path: outPath, environment: environment)
        for warning in loaded.warnings { Terminal.warning(warning) }
        report(legacy, outPath: outPath, tokenPath: tokenPath, identity: newIdentity?.1)
    }

    /// What was done and what to keep.
    private func report(_ legacy: E2bdyConfig, outPath: String, tokenPath: String, identity: String?) {
        for note in legacy.notes { Terminal.note(note) }
        var lines = [
            "Wrote \(outPath) (mode 0600): \(legacy.mappings.count) folder(s) to Baidu app \(legacy.appName), "
                + "schedule '\(legacy.schedule)' in \(E2bdyConfig.timeZone), "
                + "encryption \(legacy.encrypted ? "on" : "off")."
        ]
        if let tokens = legacy.tokens {
            let expiry = UTCStamp.iso8601(Date(timeIntervalSince1970: TimeInterval(tokens.expiresAt)))
            lines.append(
                "Moved the Baidu login to \(tokenPath) (mode 0600; access token valid until \(expiry), "
                    + "refreshed when due): no new login needed. Stop the encrypt2bdy container now: a refresh token "
                    + "works once, so only one tool may refresh it.")
        }
        if let identity {
            lines.append(
                "Wrote a new age identity to \(identity): it is needed to restore. Keep it, and a copy, "
                    + "off this machine, and remove it from here once copied.")
        }
        lines.append("Next: archiver init --config \(outPath), then archiver backup --config \(outPath).")
        lines.append(
            "Keep the old keys: the .e2bdy files already on Baidu are still encrypt2bdy's. Files from before "
                + "December 2023 need config/encrypt.key: archiver decrypt --fernet-key encrypt.key FILE.e2bdy -o OUT. "
                + "Later ones need USER_PASSKEY in a file: "
                + "archiver decrypt --aescrypt-passphrase-file FILE FILE.e2bdy -o OUT."
        )
        if legacy.hasPasskey {
            lines.append("The old config holds USER_PASSKEY: save it somewhere safe before deleting that file.")
        }
        for line in lines { Terminal.note(line) }
    }

    /// Writes the config with mode 0600 through a temporary file, so it is whole or absent; without --force an
    /// existing file is never replaced, even one that appeared since the check (`link` fails on it).
    private func writeConfig(_ text: String, to path: String) throws {
        let temporary = path + ".import-\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ArchiverError.posix("cannot create", path: temporary) }
        let sink = FileDescriptorSink(fd: fd, label: temporary, closeWhenDone: true)
        do {
            try Array(text.utf8).withUnsafeBytes { try sink.write($0) }
            try sink.sync()
            if force {
                guard rename(temporary, path) == 0 else { throw ArchiverError.posix("cannot replace", path: path) }
            } else {
                guard link(temporary, path) == 0 else {
                    if errno == EEXIST {
                        throw ArchiverError(.usage, "\(path) already exists; pass --force to replace it")
                    }
                    throw ArchiverError.posix("cannot create", path: path)
                }
                unlink(temporary)
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
