import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The one HTTP client every Baidu call in the process shares, and the encodings Baidu's calls use.
///
/// Redirects are not followed (the download path follows the dlink's 302 itself, keeping its headers);
/// certificate checks stay on (no configuration turns them off); connections are pooled per host.
enum BaiduHTTP {
    static let client: HTTPClient = {
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(connect: .seconds(10), read: .seconds(60)),
            connectionPool: HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60)))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// Every request at `trace` level, URL redacted; never headers or bodies (they carry tokens and codes).
    static let logger = Logger(label: "archiver.baidu.http")

    /// The User-Agent Baidu's documentation sends, and which dlink downloads require.
    static let userAgent = "pan.baidu.com"

    /// The most bytes of an API answer kept (a `list` page of 1000 entries is about half a MiB).
    static let maxAnswerBytes = 16 << 20

    /// One request.
    struct Call: Sendable {
        var method: HTTPMethod = .GET
        var url: String
        var headers: [(String, String)] = []
        var body: ByteBuffer?
        /// Until the answer's head arrives; the body is then bounded by the client's read timeout.
        var timeout: Duration
    }

    /// A whole answer.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
        /// The body parsed as JSON, or nil.
        var json: JSONValue? { JSONValue.parse(body.readableBytesView) }
    }

    /// A transport failure (no answer, or a cut one), with the URL redacted.
    struct TransportError: Error, Sendable, CustomStringConvertible {
        var call: String
        var detail: String
        var description: String { "Baidu \(call): no answer (\(detail))" }
    }

    /// Sends a request and collects its answer.
    /// - Parameters:
    ///   - call: the request.
    ///   - name: the call's name, for errors.
    ///   - limit: the most body bytes to keep.
    /// - Throws: `TransportError` when no whole answer arrives; `CancellationError` when cancelled.
    static func send(_ call: Call, name: String, limit: Int = maxAnswerBytes) async throws -> Reply {
        do {
            let started = ContinuousClock.now
            let response = try await start(call)
            let body = try await response.body.collect(upTo: limit)
            logger.trace("\(name): \(response.status.code), \(body.readableBytes) bytes in \(ContinuousClock.now - started)")
            return Reply(status: Int(response.status.code), headers: response.headers, body: body)
        } catch {
            throw transportError(error, name: name)
        }
    }

    /// `ARCHIVER_BAIDU_TIMEOUT_SCALE` (default 1) multiplies every call's deadline, so tests can show a server
    /// slower than the deadline in seconds rather than minutes.
    static let timeoutScale: Double = {
        guard let text = ProcessInfo.processInfo.environment["ARCHIVER_BAIDU_TIMEOUT_SCALE"],
            let value = Double(text), value > 0, value.isFinite
        else { return 1 }
        return value
    }()

    /// Sends a request and returns as soon as the head arrives; the caller streams the body.
    static func start(_ call: Call) async throws -> HTTPClientResponse {
        logger.trace("\(call.method) \(BaiduRedaction.redact(call.url))")
        var request = HTTPClientRequest(url: call.url)
        request.method = call.method
        request.headers.add(name: "User-Agent", value: userAgent)
        for (name, value) in call.headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body = call.body {
            request.body = .bytes(body)
        }
        let (seconds, attoseconds) = (call.timeout * timeoutScale).components
        let timeout = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return try await client.execute(request, timeout: timeout)
    }

    /// Wraps a client error so its text never carries a secret; cancellation passes through.
    static func transportError(_ error: any Error, name: String) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        if error is TransportError { return error }
        return TransportError(call: name, detail: BaiduRedaction.redact(String(describing: error)))
    }

    // MARK: - Encodings

    /// `application/x-www-form-urlencoded` text (also used for query strings): every byte but the unreserved
    /// ones percent-encoded, exactly once.
    static func formEncode(_ items: [(String, String)]) -> String {
        items.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// `base + path + ?query`.
    static func url(_ base: String, _ path: String, _ query: [(String, String)]) -> String {
        query.isEmpty ? base + path : base + path + "?" + formEncode(query)
    }

    /// Makes a URL a server gave us (an upload host, a download redirect) safe to use: `https://` stays,
    /// `http://` is accepted only for this machine and is otherwise upgraded to `https://`.
    static func secured(_ url: String) -> String {
        guard url.lowercased().hasPrefix("http://") else { return url }
        if let host = URL(string: url)?.host, BaiduSettings.isLoopback(host) { return url }
        return "https://" + url.dropFirst("http://".count)
    }
}

/// The multipart framing of one slice for `superfile2`: one part named `file`.
///
/// The framing is the same for every slice, so a slice buffer is allocated with the head already in place and
/// the tail appended once full: the bytes are never copied into a separate request body.
enum SliceFraming {
    static let boundary = "archiver-slice-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    static let head = Array(
        ("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n"
            + "Content-Type: application/octet-stream\r\n\r\n").utf8)
    static let tail = Array("\r\n--\(boundary)--\r\n".utf8)
    static var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    /// An empty slice buffer with room for `sliceSize` bytes and the framing.
    static func makeBuffer(sliceSize: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: head.count + sliceSize + tail.count)
        buffer.writeBytes(head)
        return buffer
    }
}
