import FlyingFox
import FlyingSocks
import Foundation

/// Builds answers in Baidu's three envelopes (API notes §0): OAuth errors with HTTP 400, xpan `errno` with
/// HTTP 200 even on error, PCS `error_code` with a 4xx/5xx status. Every xpan and PCS answer has `request_id`.
enum Reply {
    static func json(_ value: JSON, status: Int = 200, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return HTTPResponse(statusCode: statusCode(status), headers: headers, body: value.data)
    }

    static func statusCode(_ code: Int) -> HTTPStatusCode {
        switch code {
        case 200: .ok
        case 206: .partialContent
        case 302: .found
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 416: .rangeNotSatisfiable
        case 500: .internalServerError
        case 503: .serviceUnavailable
        default: HTTPStatusCode(code, phrase: "Status \(code)")
        }
    }

    static func requestID() -> Int {
        Int.random(in: 100_000_000_000_000_000...999_999_999_999_999_999)
    }

    /// A successful xpan answer: `errno` 0 unless the body sets its own (filemanager's 12).
    static func xpan(_ body: JSON) -> HTTPResponse {
        guard case .object(var members) = body else { return json(body) }
        let code = members["errno"]?.int ?? 0
        members["errno"] = .int(code)
        if members["errmsg"] == nil { members["errmsg"] = code == 0 ? "succ" : "batch operation failed" }
        members["request_id"] = .int(requestID())
        return json(.object(members))
    }

    static func xpanError(_ code: Int, _ message: String) -> HTTPResponse {
        json(["errno": .int(code), "errmsg": .string(message), "request_id": .int(requestID())])
    }

    /// A PCS answer; `status` defaults to the one Baidu uses for the code.
    static func pcs(_ body: JSON, status: Int = 200) -> HTTPResponse {
        guard case .object(var members) = body else { return json(body, status: status) }
        members["request_id"] = .int(requestID())
        return json(.object(members), status: status)
    }

    static func pcsError(_ code: Int, _ message: String, status: Int? = nil) -> HTTPResponse {
        pcs(["error_code": .int(code), "error_msg": .string(message)], status: status ?? pcsStatus(for: code))
    }

    /// The HTTP status PCS pairs with an error code.
    static func pcsStatus(for code: Int) -> Int {
        switch code {
        case 110, 111, 31045: 401
        case 4, 31024, 31034, 31064, 31326, 31360, 31362: 403
        case 31066: 404
        case 31296: 500
        case 31212, 31213: 503
        default: 400
        }
    }

    static func oauthError(_ error: String, _ description: String) -> HTTPResponse {
        json(["error": .string(error), "error_description": .string(description)], status: 400)
    }

    /// An answer that closes the connection: the head goes out, then the body fails after `limit` bytes.
    static func reset(
        status: Int = 200, headers: HTTPHeaders = [:], file: URL? = nil, range: Range<Int> = 0..<64, limit: Int = 0
    )
        -> HTTPResponse
    {
        let body = ResetBody(file: file, range: range, limit: limit)
        return HTTPResponse(
            statusCode: statusCode(status), headers: headers,
            body: HTTPBodySequence(from: body, count: range.count, suggestedBufferSize: 64 * 1024))
    }
}

/// A body that sends at most `limit` bytes of a file range, then fails so the server drops the connection.
struct ResetBody: AsyncBufferedSequence {
    typealias Element = UInt8

    struct ConnectionReset: Error {}

    let file: URL?
    let range: Range<Int>
    let limit: Int

    func makeAsyncIterator() -> Iterator {
        Iterator(file: file, offset: range.lowerBound, remaining: Swift.min(limit, range.count))
    }

    struct Iterator: AsyncBufferedIteratorProtocol {
        let file: URL?
        var offset: Int
        var remaining: Int
        var handle: FileHandle?

        init(file: URL?, offset: Int, remaining: Int) {
            self.file = file
            self.offset = offset
            self.remaining = remaining
        }

        mutating func next() async throws -> UInt8? {
            try await nextBuffer(suggested: 1)?.first
        }

        mutating func nextBuffer(suggested count: Int) async throws -> Data? {
            guard remaining > 0, let file else { throw ConnectionReset() }
            if handle == nil {
                handle = try FileHandle(forReadingFrom: file)
                try handle?.seek(toOffset: UInt64(offset))
            }
            guard let chunk = try handle?.read(upToCount: Swift.min(count, remaining)), !chunk.isEmpty else {
                throw ConnectionReset()
            }
            remaining -= chunk.count
            return chunk
        }
    }
}
