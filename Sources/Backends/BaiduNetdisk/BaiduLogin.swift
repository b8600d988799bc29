public import ArchiverKit
import Foundation

/// Logging in to Baidu Netdisk, for `archiver auth baidu` and `archiver import-token`.
///
/// Both write `token_file` (mode 0600, atomically, under the same lock refreshes take) and remove a
/// `<token_file>.login-needed` marker, so the next run works again.
public enum BaiduLogin {
    /// Runs the OAuth device-code flow: shows the verification URL, the user code and the QR-code link through
    /// `say`, polls at the interval Baidu gives until the user approves, and writes the token file.
    ///
    /// `authorization_pending` keeps polling, `slow_down` adds 5 seconds to the interval; a declined, expired or
    /// reused code stops the flow.
    /// - Parameters:
    ///   - context: the registry context; `context.settings["baidu"]` holds the settings.
    ///   - say: prints a line for the user.
    /// - Throws: `ArchiverError(.usage)` when `baidu.app_key`, `baidu.secret_key` or `baidu.token_file` is missing;
    ///   `ArchiverError(.loginNeeded)` when the user declined or the code expired; `ArchiverError(.backend)` when
    ///   Baidu could not be reached.
    public static func deviceLogin(
        context: BackendRegistry.Context, say: @escaping @Sendable (String) -> Void
    ) async throws {
        let settings = try BaiduSettings(context.settings["baidu"] ?? [:])
        let oauth = BaiduOAuth(settings: settings)
        let code: BaiduOAuth.DeviceCode
        do {
            code = try await oauth.deviceCode()
        } catch {
            throw ArchiverError(
                .backend, "cannot start the Baidu login: \(BaiduRedaction.redact(String(describing: error)))",
                cause: error)
        }
        say("Open \(code.verificationURL) and enter the code \(code.userCode)")
        if let qr = code.qrcodeURL { say("Or scan the QR code at \(qr) with the Baidu Netdisk app") }
        say("Waiting for the approval (the code is valid for \(code.expiresIn / 60) minutes)...")

        let deadline = ContinuousClock.now + .seconds(code.expiresIn)
        var interval = code.interval
        while true {
            try await Task.sleep(for: .seconds(interval))
            guard ContinuousClock.now < deadline else {
                throw ArchiverError(
                    .loginNeeded, "the Baidu login code expired before it was approved; run the login again")
            }
            do {
                let grant = try await oauth.pollDeviceToken(code)
                try await store(settings).save(grant)
                say("Logged in; the tokens are in \(settings.tokenFile)")
                return
            } catch let error as BaiduAPIError {
                switch error.oauthError {
                case "authorization_pending":
                    continue
                case "slow_down":
                    interval += 5
                case "authorization_declined":
                    throw ArchiverError(.loginNeeded, "the Baidu login was declined", cause: error)
                case "expired_token", "invalid_grant":
                    throw ArchiverError(
                        .loginNeeded,
                        "the Baidu login code expired or was already used (\(error)); run the login again",
                        cause: error)
                default:
                    if error.oauthError == nil && (error.status >= 500 || error.status == 429) { continue }
                    throw ArchiverError(.backend, "the Baidu login failed: \(error)", cause: error)
                }
            } catch let error as BaiduHTTP.TransportError {
                // A lost poll loses nothing: the device code is only used up by a successful answer.
                say("Baidu did not answer (\(error.detail)); trying again")
            }
        }
    }

    /// Accepts an existing refresh token (the original tool's, for example): refreshes once to check it and writes
    /// the new pair. The token given is dead afterwards, as every refresh token Baidu has seen once.
    /// - Parameters:
    ///   - refreshToken: the refresh token.
    ///   - context: the registry context; `context.settings["baidu"]` holds the settings.
    /// - Throws: `ArchiverError(.usage)` for missing settings; `ArchiverError(.loginNeeded)` when Baidu refuses the
    ///   token; `ArchiverError(.backend)` when Baidu could not be reached.
    public static func importRefreshToken(_ refreshToken: String, context: BackendRegistry.Context) async throws {
        let settings = try BaiduSettings(context.settings["baidu"] ?? [:])
        let token = refreshToken.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ArchiverError(.usage, "the refresh token to import is empty") }
        do {
            try await store(settings).importRefreshToken(token)
        } catch let error as BaiduHTTP.TransportError {
            throw ArchiverError(.backend, "cannot reach Baidu to check the refresh token: \(error)", cause: error)
        }
    }

    /// Writes a token pair saved by another tool (encrypt2bdy kept it in its config.yml) to `tokenFile`, exactly as
    /// a login would (mode 0600, atomically, under the refresh lock, any login-needed marker removed), with no
    /// network call: the pair stays valid and the next run refreshes it when it is due.
    /// - Parameters:
    ///   - accessToken: the access token (may be expired).
    ///   - refreshToken: the refresh token.
    ///   - expiresAt: when the access token expires, unix seconds.
    ///   - tokenFile: the token file (absolute).
    /// - Throws: `ArchiverError(.usage)` for an empty refresh token, `.io` when the file cannot be written.
    public static func importTokens(
        accessToken: String, refreshToken: String, expiresAt: Int64, tokenFile: String
    ) async throws {
        guard !refreshToken.isEmpty else { throw ArchiverError(.usage, "the refresh token to import is empty") }
        let store = TokenStore(path: tokenFile, loginCommand: "archiver auth baidu") { _ in
            throw ArchiverError(.internalError, "an import never refreshes")
        }
        let now = Int64(Date().timeIntervalSince1970)
        var tokens = TokenStore.Tokens(
            TokenGrant(accessToken: accessToken, refreshToken: refreshToken, expiresIn: expiresAt - now), now: now)
        // Unknown grant time: refresh by the 30-day lifetime's rule, not by a lifetime guessed from the import.
        tokens.grantedAt = nil
        try await store.save(tokens)
    }

    static func store(_ settings: BaiduSettings) -> TokenStore {
        let oauth = BaiduOAuth(settings: settings)
        return TokenStore(path: settings.tokenFile, loginCommand: settings.loginCommand) { try await oauth.refresh($0) }
    }
}
