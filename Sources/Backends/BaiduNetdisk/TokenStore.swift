import ArchiverKit
import Foundation
import Logging
import Synchronization

/// What Baidu's token endpoint grants (a device login or a refresh).
struct TokenGrant: Sendable, Equatable {
    var accessToken: String
    var refreshToken: String
    /// Seconds the access token lives.
    var expiresIn: Int64
    var scope: String?
}

/// The OAuth pair on disk (`token_file`) and its lifecycle: refresh ahead of expiry or when Baidu refuses the access
/// token, at most one refresh at a time across processes, the new pair written before it is used, and a refresh
/// token never sent twice. When Baidu refuses the saved pair, the store writes `<token_file>.login-needed` and
/// every call fails with `ArchiverError(.loginNeeded)` until the user logs in again.
final class TokenStore: Sendable {
    /// The token file's content.
    struct Tokens: Codable, Equatable, Sendable {
        var accessToken: String
        var refreshToken: String
        /// Unix seconds.
        var expiresAt: Int64
        var scope: String?
        /// When the pair was granted (unix seconds), to refresh short-lived test tokens at half their life.
        var grantedAt: Int64?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case refreshToken = "refresh_token"
            case expiresAt = "expires_at"
            case scope
            case grantedAt = "granted_at"
        }

        init(_ grant: TokenGrant, now: Int64) {
            accessToken = grant.accessToken
            refreshToken = grant.refreshToken
            expiresAt = now + grant.expiresIn
            scope = grant.scope
            grantedAt = now
        }

        /// Whether to refresh now: less than a day left, or less than half the lifetime for short-lived tokens.
        func needsRefresh(now: Int64) -> Bool {
            let lifetime = expiresAt - (grantedAt ?? (expiresAt - 30 * 86_400))
            return expiresAt - now < min(86_400, max(1, lifetime / 2))
        }
    }

    /// The login-needed marker's content.
    struct LoginNeeded: Codable, Sendable {
        var reason: String
        var time: String
    }

    /// Sends a refresh token to Baidu. Throws `BaiduAPIError` when Baidu answers with a refusal.
    typealias Refresher = @Sendable (_ refreshToken: String) async throws -> TokenGrant

    let path: String
    var lockPath: String { path + ".lock" }
    var loginNeededPath: String { path + ".login-needed" }
    /// The command that logs in again, for messages.
    let loginCommand: String
    private let refresher: Refresher
    private let now: @Sendable () -> Int64

    private struct State {
        var cached: Tokens?
        /// Every refresh token this process sent, whatever came of it: none is ever sent twice.
        var sent: Set<String> = []
    }

    private let state = Mutex(State())

    /// Creates a store over a token file.
    /// - Parameters:
    ///   - path: the token file.
    ///   - loginCommand: the command that logs in again.
    ///   - refresher: the OAuth refresh call.
    ///   - now: the clock, in unix seconds.
    init(
        path: String, loginCommand: String, refresher: @escaping Refresher,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.path = path
        self.loginCommand = loginCommand
        self.refresher = refresher
        self.now = now
    }

    /// A usable access token: the cached one, the one on disk, or a fresh one when it expires within a day.
    /// - Throws: `ArchiverError(.loginNeeded)` when there is no login or Baidu refused it.
    func accessToken() async throws -> String {
        if let cached = state.withLock({ $0.cached }), !cached.needsRefresh(now: now()) {
            return cached.accessToken
        }
        let tokens = try load()
        if !tokens.needsRefresh(now: now()) {
            state.withLock { $0.cached = tokens }
            return tokens.accessToken
        }
        return try await refresh(rejected: nil)
    }

    /// Gets a new access token, because Baidu refused `rejected` or (nil) because the current one is about to expire.
    ///
    /// Under the lock, the file is read again first: when another process refreshed meanwhile, its pair is used and
    /// nothing is sent.
    /// - Throws: `ArchiverError(.loginNeeded)` when Baidu refuses the refresh token; `ArchiverError(.backend)` when
    ///   the refresh could not be done and must not be retried in this process.
    func refresh(rejected: String?) async throws -> String {
        let lock = try await TokenFileLock.acquire(lockPath)
        defer { lock.release() }
        let onDisk = try load()
        let current = now()
        if let rejected, onDisk.accessToken != rejected, onDisk.expiresAt > current {
            state.withLock { $0.cached = onDisk }
            return onDisk.accessToken
        }
        if rejected == nil, !onDisk.needsRefresh(now: current) {
            state.withLock { $0.cached = onDisk }
            return onDisk.accessToken
        }
        let refreshToken = onDisk.refreshToken
        let firstSend = state.withLock { $0.sent.insert(refreshToken).inserted }
        guard firstSend else {
            throw ArchiverError(
                .backend,
                "refreshing the Baidu login already failed in this run and a refresh token is never sent twice; "
                    + "run again later, or log in again: \(loginCommand)")
        }
        let grant: TokenGrant
        do {
            grant = try await refresher(refreshToken)
        } catch let error as BaiduAPIError where error.envelope == .oauth || (400..<500).contains(error.status) {
            // Re-read after the refusal: a pair written meanwhile (by a login) is still good.
            if let again = try? load(), again.refreshToken != refreshToken {
                state.withLock { $0.cached = again }
                return again.accessToken
            }
            let reason = error.oauthError.map { "\($0): \(error.message)" } ?? error.description
            try markLoginNeeded(reason: reason)
            state.withLock { $0.cached = nil }
            throw ArchiverError(
                .loginNeeded, "Baidu refused the saved login (\(reason)). Log in again: \(loginCommand)", cause: error)
        } catch {
            throw ArchiverError(
                .backend, "cannot refresh the Baidu login: \(BaiduRedaction.redact(String(describing: error)))",
                cause: error)
        }
        let tokens = Tokens(grant, now: now())
        try write(tokens)
        tokenLogger.debug("refreshed the Baidu access token (\(rejected == nil ? "due to expire" : "refused")); the new pair is saved, valid until \(tokens.expiresAt)")
        return tokens.accessToken
    }

    /// Saves a pair from a login (device flow or an imported refresh token), under the lock.
    func save(_ grant: TokenGrant) async throws {
        let lock = try await TokenFileLock.acquire(lockPath)
        defer { lock.release() }
        try write(Tokens(grant, now: now()))
    }

    /// Saves a pair obtained elsewhere (another tool's saved login), under the lock.
    func save(_ tokens: Tokens) async throws {
        let lock = try await TokenFileLock.acquire(lockPath)
        defer { lock.release() }
        try write(tokens)
    }

    /// Sends a refresh token from outside (an import) once, and saves the pair Baidu returns.
    /// - Throws: the refusal as `ArchiverError(.loginNeeded)`.
    func importRefreshToken(_ refreshToken: String) async throws {
        let lock = try await TokenFileLock.acquire(lockPath)
        defer { lock.release() }
        state.withLock { _ = $0.sent.insert(refreshToken) }
        let grant: TokenGrant
        do {
            grant = try await refresher(refreshToken)
        } catch let error as BaiduAPIError {
            throw ArchiverError(
                .loginNeeded, "Baidu refused the refresh token (\(error)). Log in with: \(loginCommand)", cause: error)
        }
        try write(Tokens(grant, now: now()))
    }

    /// Why the user must log in again, when the marker says so.
    func loginNeededReason() -> String? {
        guard let bytes = try? TokenFiles.read(loginNeededPath) else { return nil }
        let reason = (try? JSONDecoder().decode(LoginNeeded.self, from: Data(bytes)))?.reason ?? "unknown reason"
        return "Baidu refused the saved login (\(reason)). Log in again: \(loginCommand)"
    }

    // MARK: - Files

    /// Reads the token file; a login-needed marker or a missing file stops here, with no network call.
    private func load() throws -> Tokens {
        if let reason = loginNeededReason() {
            throw ArchiverError(.loginNeeded, reason)
        }
        guard let bytes = try TokenFiles.read(path) else {
            throw ArchiverError(
                .loginNeeded, "no Baidu login yet (\(path) does not exist). Log in: \(loginCommand)")
        }
        do {
            return try JSONDecoder().decode(Tokens.self, from: Data(bytes))
        } catch {
            throw ArchiverError(
                .loginNeeded, "the Baidu token file \(path) is damaged (\(error)). Log in again: \(loginCommand)")
        }
    }

    /// Writes the pair atomically, forgets any login-needed marker and caches the pair.
    private func write(_ tokens: Tokens) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try TokenFiles.writeAtomically(Array(try encoder.encode(tokens)), to: path)
        TokenFiles.remove(loginNeededPath)
        state.withLock { $0.cached = tokens }
    }

    private func markLoginNeeded(reason: String) throws {
        let time = UTCStamp.iso8601(Date(timeIntervalSince1970: TimeInterval(now())))
        let bytes = try JSONEncoder().encode(LoginNeeded(reason: reason, time: time))
        try TokenFiles.writeAtomically(Array(bytes), to: loginNeededPath)
    }
}

/// Token events at `debug` level: when and why, never a token.
private let tokenLogger = Logger(label: "archiver.baidu.token")
