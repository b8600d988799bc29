import ArchiverKit

/// Passes bytes on until a total is reached and refuses the write that would pass it, so a small hostile object (a
/// gzip bomb) cannot write more than its reader allowed; nothing past the cap reaches the inner sink.
final class SizeCappedSink: ByteSink, @unchecked Sendable {
    private let inner: any ByteSink
    private let limit: Int64
    private var written: Int64 = 0

    init(_ inner: any ByteSink, limit: Int64) {
        self.inner = inner
        self.limit = limit
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard written + Int64(bytes.count) <= limit else {
            throw ArchiverError(
                .integrity,
                "the plaintext is larger than --max-size (\(limit) bytes): refused before writing more; "
                    + "a gzip bomb, or a larger --max-size is needed")
        }
        written += Int64(bytes.count)
        try inner.write(bytes)
    }
}
