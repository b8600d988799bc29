import ArchiverKit
import Foundation
import NIOHTTP1
import NIOCore
import Synchronization

/// Reads one object through its dlink: `filemetas` gives the link, a GET with `User-Agent: pan.baidu.com` answers
/// with a 302 to the data host, which serves `Range` requests.
///
/// Bytes come in chunks of `chunkSize`, the next one fetched while the pipeline consumes the current one, so at most
/// two chunks are in memory. A chunk that fails is fetched again from its offset; an expired link (31360, 31362) is
/// fetched anew.
final class BaiduObjectReader: ObjectReader {
    static let chunkSize = 4 << 20

    private let source: BaiduDownload
    private let end: Int64

    private struct State {
        var current = ByteBuffer()
        /// The offset of the next chunk to request.
        var nextOffset: Int64
        var pending: BlockingResult<ByteBuffer>?
        var closed = false
    }

    private let state: Mutex<State>

    init(source: BaiduDownload, range: Range<Int64>) {
        self.source = source
        self.end = range.upperBound
        self.state = Mutex(State(nextOffset: range.lowerBound))
        state.withLock { prefetch(&$0) }
    }

    /// Starts fetching the next chunk, if any is left.
    private func prefetch(_ state: inout State) {
        guard state.pending == nil, state.nextOffset < end else { return }
        let range = state.nextOffset..<min(end, state.nextOffset + Int64(Self.chunkSize))
        state.nextOffset = range.upperBound
        state.pending = BlockingResult { [source] in try await source.fetch(range) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            let pending: BlockingResult<ByteBuffer>? = try state.withLock { state in
                guard !state.closed else {
                    throw ArchiverError(.internalError, "read after close", subject: source.name.value)
                }
                if state.current.readableBytes > 0 { return nil }
                let pending = state.pending
                state.pending = nil
                return pending
            }
            if let pending {
                let chunk = try pending.wait()
                state.withLock { state in
                    state.current = chunk
                    prefetch(&state)
                }
                continue
            }
            return state.withLock { state in
                let count = min(buffer.count, state.current.readableBytes)
                guard count > 0 else { return 0 }  // no chunk pending and none left: the end
                state.current.withUnsafeReadableBytes { bytes in
                    buffer.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: count)
                }
                state.current.moveReaderIndex(forwardBy: count)
                return count
            }
        }
    }

    func close() async {
        let pending = state.withLock { state in
            state.closed = true
            state.current = ByteBuffer()
            defer { state.pending = nil }
            return state.pending
        }
        await pending?.cancel()
    }
}

/// The download side of one object: its dlink, refreshed when it expires, and the data host it redirects to.
final class BaiduDownload: Sendable {
    let name: ObjectName
    let fsID: Int64
    private let backend: BaiduBackend
    private let links = Mutex<(dlink: String?, data: String?)>((nil, nil))

    init(backend: BaiduBackend, name: ObjectName, fsID: Int64) {
        self.backend = backend
        self.name = name
        self.fsID = fsID
    }

    /// The bytes of `range`, exactly.
    /// - Throws: `ArchiverError(.backend)` when they cannot be had.
    func fetch(_ range: Range<Int64>) async throws -> ByteBuffer {
        try await withLink { url in
            let header = ("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
            let reply = try await self.get(url, headers: [header], limit: Int(range.count) + 1)
            guard reply.body.readableBytes == range.count, reply.status == 206 || range.lowerBound == 0 else {
                throw BaiduHTTP.TransportError(
                    call: "download",
                    detail: "HTTP \(reply.status) with \(reply.body.readableBytes) bytes for the \(range.count) bytes "
                        + "at \(range.lowerBound)")
            }
            return reply.body
        }
    }

    /// The object's true MD5 (the `Content-MD5` the download host sends; the MD5 in listings is not the content's).
    func contentMD5() async throws -> [UInt8]? {
        try await withLink { url in
            let reply = try await self.get(url, headers: [("Range", "bytes=0-0")], limit: 1 << 16)
            return reply.headers.first(name: "Content-MD5").flatMap(Hex.decodeDigest)
        }
    }

    /// A GET of the object's link: the dlink with the access token, whose 302 is followed here with the same
    /// headers, or the data host it named last time.
    private func get(_ url: String, headers: [(String, String)], limit: Int) async throws -> BaiduHTTP.Reply {
        var reply = try await BaiduHTTP.send(
            BaiduHTTP.Call(url: url, headers: headers, timeout: backend.settings.transferTimeout), name: "download",
            limit: limit)
        if (300..<400).contains(reply.status), let location = reply.headers.first(name: "Location") {
            let target = BaiduHTTP.secured(location)
            links.withLock { $0.data = target }
            reply = try await BaiduHTTP.send(
                BaiduHTTP.Call(url: target, headers: headers, timeout: backend.settings.transferTimeout),
                name: "download", limit: limit)
        }
        let body = reply.status >= 300 ? reply.json : nil
        if let error = BaiduAPIError.from(body: body, status: reply.status, call: "download") { throw error }
        return reply
    }

    /// Runs `body` with a link, under the client's retry rules; a refused data host or an expired dlink is
    /// replaced once per failure.
    private func withLink<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        var relinks = 0
        while true {
            do {
                return try await backend.client.perform("download") { token in
                    let (dlink, data) = self.links.withLock { $0 }
                    if let data {
                        do {
                            return try await body(data)
                        } catch is BaiduAPIError {
                            // The data host's address expired: go through the dlink again.
                            self.links.withLock { $0.data = nil }
                        }
                    }
                    var link = dlink ?? ""
                    if dlink == nil { link = try await self.fetchLink() }
                    let separator = link.contains("?") ? "&" : "?"
                    return try await body(link + separator + "access_token=" + BaiduHTTP.percentEncode(token))
                }
            } catch let error as BaiduAPIError where BaiduErrorAction.classify(error) == .refetchLink && relinks < 3 {
                relinks += 1
                links.withLock { $0 = (nil, nil) }
            } catch let error as BaiduAPIError {
                throw ArchiverError(baidu: error, subject: name.value, doing: "download object \(name)")
            }
        }
    }

    /// Asks `filemetas` for a fresh dlink.
    private func fetchLink() async throws -> String {
        let request = backend.apiRequest(
            "filemetas", path: "/rest/2.0/xpan/multimedia",
            [("method", "filemetas"), ("fsids", JSONText.integers([fsID])), ("dlink", "1")])
        let json = try await backend.client.json(request)
        guard let link = json["list"]?.array?.first?["dlink"]?.string else {
            throw ArchiverError(
                .backend, "object \(name) has no download link (Baidu filemetas returned none)", subject: name.value)
        }
        let secured = BaiduHTTP.secured(link)
        links.withLock { $0.dlink = secured }
        return secured
    }
}

/// Hex text of digests.
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// A 16-byte digest from 32 hex digits or from base64 (RFC 1864's form).
    static func decodeDigest(_ text: String) -> [UInt8]? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.count == 32 {
            var bytes: [UInt8] = []
            var index = text.startIndex
            while index < text.endIndex {
                let next = text.index(index, offsetBy: 2)
                guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
                bytes.append(byte)
                index = next
            }
            return bytes
        }
        if let data = Data(base64Encoded: text), data.count == 16 { return [UInt8](data) }
        return nil
    }
}
