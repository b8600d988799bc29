import FlyingFox
import Foundation

/// The data answer behind a dlink's redirect: whole or ranged, with the true MD5 in `Content-MD5`.
extension FakeServer {
    func serveData(_ fields: Fields, request: HTTPRequest) async throws -> HTTPResponse {
        let token = String(request.path.dropFirst("/cdn/".count))
        let download = try await state.download(token, sign: fields["sign"])
        var headers: HTTPHeaders = [
            .contentType: "application/octet-stream", HTTPHeader("Accept-Ranges"): "bytes",
            HTTPHeader("Content-MD5"): download.md5, HTTPHeader("x-bs-file-size"): String(download.size),
            HTTPHeader("Content-Disposition"): "attachment;filename=\"\(download.name)\"",
        ]
        var status = 200
        var range = 0..<download.size
        if let header = request.headers[.range] {
            switch Self.parseRange(header, size: download.size) {
            case .none:
                break
            case .some(.none):
                headers[HTTPHeader("Content-Range")] = "bytes */\(download.size)"
                return HTTPResponse(statusCode: .rangeNotSatisfiable, headers: headers)
            case .some(.some(let satisfiable)):
                range = satisfiable
                status = 206
                headers[HTTPHeader("Content-Range")] =
                    "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(download.size)"
            }
        }
        if request.method == .HEAD {
            headers[.contentLength] = String(range.count)
            return HTTPResponse(statusCode: Reply.statusCode(status), headers: headers)
        }
        if download.reset {
            return Reply.reset(
                status: status, headers: headers, file: download.blob, range: range, limit: range.count / 2)
        }
        return HTTPResponse(
            statusCode: Reply.statusCode(status), headers: headers,
            body: try HTTPBodySequence(file: download.blob, range: range, suggestedBufferSize: 256 * 1024))
    }

    /// A single `bytes=` range: nil to ignore the header (not one byte range), `.some(nil)` when unsatisfiable.
    static func parseRange(_ header: String, size: Int) -> Range<Int>?? {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes="), !text.contains(",") else { return nil }
        let parts = text.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let last = parts[1].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return .some(nil) }
            return .some(max(0, size - suffix)..<size)
        }
        guard let start = Int(first), start >= 0 else { return nil }
        guard start < size else { return .some(nil) }
        if last.isEmpty { return .some(start..<size) }
        guard let end = Int(last), end >= start else { return nil }
        return .some(start..<min(end + 1, size))
    }
}
