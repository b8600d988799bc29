import ArchiverKit
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Authenticated calls to Baidu with the retry rules of the API notes (section 8): backoff with jitter on network
/// errors, 5xx, 31034 and 42000; long pauses on call quotas; one retry on errno 2; one token refresh and one retry on
/// an authentication errno. Everything else is thrown to the caller as `BaiduAPIError`, which knows what -8 or -9
/// means for its call.
final class BaiduClient: Sendable {
    let settings: BaiduSettings
    let tokens: TokenStore
    let policy: RetryPolicy
    let logger: Logger

    init(settings: BaiduSettings, tokens: TokenStore, policy: RetryPolicy = RetryPolicy(), logger: Logger) {
        self.settings = settings
        self.tokens = tokens
        self.policy = policy
        self.logger = logger
    }

    /// One API request.
    struct Request: Sendable {
        /// The call's name (`precreate`, `list`), for messages and the meaning of some codes.
        var name: String
        var base: String
        var path: String
        var query: [(String, String)]
        var method: HTTPMethod = .GET
        /// A form body (`application/x-www-form-urlencoded`), encoded once.
        var form: [(String, String)]?
        /// A ready body with its content type (a `superfile2` slice).
        var body: (buffer: ByteBuffer, contentType: String)?
        var timeout: Duration = .seconds(30)
    }

    /// Sends a request with the retry rules and returns its JSON answer.
    /// - Throws: `BaiduAPIError` for answers the rules do not absorb; `ArchiverError` for a login that is needed or
    ///   a network that stays down; `CancellationError`.
    func json(_ request: Request) async throws -> JSONValue {
        try await perform(request.name) { token in
            var query = request.query
            query.insert(("access_token", token), at: 0)
            var call = BaiduHTTP.Call(
                method: request.method, url: BaiduHTTP.url(request.base, request.path, query), timeout: request.timeout)
            if let form = request.form {
                call.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
                call.body = ByteBuffer(string: BaiduHTTP.formEncode(form))
            } else if let body = request.body {
                call.headers.append(("Content-Type", body.contentType))
                call.body = body.buffer
            }
            let reply = try await BaiduHTTP.send(call, name: request.name)
            let json = reply.json
            if let error = BaiduAPIError.from(body: json, status: reply.status, call: request.name) { throw error }
            guard let json else {
                throw BaiduAPIError(
                    call: request.name, envelope: .http, code: nil, oauthError: nil, message: "the answer is not JSON",
                    requestID: nil, status: reply.status)
            }
            return json
        }
    }

    /// Runs `attempt` with a valid access token under the retry rules.
    /// - Parameters:
    ///   - name: the call's name, for logs.
    ///   - attempt: one try; throws `BaiduAPIError` or `BaiduHTTP.TransportError` to ask for the rules.
    func perform<T: Sendable>(_ name: String, _ attempt: (String) async throws -> T) async throws -> T {
        var backoffs = 0
        var pauses = 0
        var retriedOnce = false
        var refreshed = false
        while true {
            try Task.checkCancellation()
            let token = try await tokens.accessToken()
            let failure: any Error
            do {
                return try await attempt(token)
            } catch {
                failure = error
            }
            switch failure {
            case let error as BaiduAPIError:
                switch BaiduErrorAction.classify(error) {
                case .backoff where backoffs + 1 < policy.attempts:
                    backoffs += 1
                    try await wait(policy.backoff(retry: backoffs), after: error, retry: backoffs)
                case .longPause where pauses < policy.longPauses:
                    pauses += 1
                    try await wait(policy.pause, after: error, retry: pauses)
                case .retryOnce where !retriedOnce:
                    retriedOnce = true
                    logger.info("\(error); retrying once")
                case .refreshToken where !refreshed:
                    refreshed = true
                    logger.info("\(error); refreshing the access token")
                    _ = try await tokens.refresh(rejected: token)
                default:
                    throw error
                }
            case let error as BaiduHTTP.TransportError:
                guard backoffs + 1 < policy.attempts else {
                    throw ArchiverError(
                        .backend, "\(error), \(policy.attempts) attempts; check the network and run again",
                        cause: error)
                }
                backoffs += 1
                try await wait(policy.backoff(retry: backoffs), after: error, retry: backoffs)
            default:
                throw failure
            }
        }
    }

    private func wait(_ delay: Duration, after error: any Error, retry: Int) async throws {
        logger.warning("\(error); retry \(retry) in \(delay)")
        try await Task.sleep(for: delay)
    }
}
