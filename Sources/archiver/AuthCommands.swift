import ArchiverKit
import ArgumentParser
import Backends
import Foundation

/// `archiver auth baidu`: logs in to Baidu Netdisk with the device-code flow and keeps the tokens in `token_file`.
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Log in to a remote that needs an account.",
        subcommands: [AuthBaiduCommand.self])
}

/// The device-code login, or the import of an existing refresh token.
struct AuthBaiduCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baidu",
        abstract: "Log in to Baidu Netdisk: open the URL it prints, enter the code (or scan the QR code).",
        discussion: """
            The tokens go to baidu.token_file (mode 0600), never into the config. With --refresh-token-file, an \
            existing refresh token (for example encrypt2bdy's BDY_USER_REFRESH_TOKEN) is exchanged for a new pair \
            instead, with no browser step.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Import this file's refresh token instead of logging in ('-' reads stdin).")
    var refreshTokenFile: String?

    func run() async throws {
        let config = try options.load(identityNeeded: true)
        let context = try baiduContext(config)
        if let refreshTokenFile {
            try await BaiduLogin.importRefreshToken(try readToken(refreshTokenFile), context: context)
            Terminal.output("imported; the tokens are in \(config.baidu?.tokenFile ?? "the token file")")
            return
        }
        try await BaiduLogin.deviceLogin(context: context) { Terminal.output($0) }
    }
}

/// `archiver import-token`: takes an existing Baidu refresh token (the original tool's) without a new login.
struct ImportTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-token",
        abstract: "Use an existing Baidu refresh token (e.g. encrypt2bdy's) instead of logging in again.",
        discussion: """
            The token is read from FILE, or from stdin when FILE is '-' or absent, so it never shows in the \
            process list. It is exchanged once for a fresh pair, which goes to baidu.token_file (mode 0600); the \
            old refresh token stops working, as Baidu rotates it.
            """)

    @OptionGroup var options: ConfigOptions

    @Argument(help: "A file holding the refresh token ('-' or nothing: stdin).")
    var file: String?

    func run() async throws {
        let config = try options.load(identityNeeded: true)
        try await BaiduLogin.importRefreshToken(try readToken(file ?? "-"), context: try baiduContext(config))
        Terminal.output("imported; the tokens are in \(config.baidu?.tokenFile ?? "the token file")")
    }
}

/// The backend context of a config that uses Baidu, or a usage error saying what to add.
private func baiduContext(_ config: ArchiverConfig) throws -> BackendRegistry.Context {
    guard config.baidu != nil else {
        throw ArchiverError(
            .usage, "the config has no 'baidu:' block: add app_name, app_key and secret_key (or BDY_* variables)")
    }
    return config.backendContext()
}

/// Reads a token from a file or stdin, trimmed; refuses an empty one.
private func readToken(_ path: String) throws -> String {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        guard let read = FileManager.default.contents(atPath: path) else {
            throw ArchiverError(.usage, "cannot read the refresh token file", subject: path)
        }
        data = read
    }
    let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard !token.isEmpty, !token.contains(where: \.isWhitespace) else {
        throw ArchiverError(.usage, "expected one refresh token (no spaces)", subject: path == "-" ? "stdin" : path)
    }
    return token
}
