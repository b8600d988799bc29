import CZlib

/// Streaming inflater for gzip (any number of concatenated members) or zlib data.
///
/// Memory is bounded: input is consumed as it is fed and output leaves through the callback in pieces of at
/// most `outputBufferSize` bytes. With `maxOutput` set, inflating stops with `.tooLarge` before a byte past the
/// limit is released, which defuses gzip bombs and catches an object whose size disagrees with its catalog entry.
public final class Inflater {
    /// The framing of the compressed stream.
    public enum Format: Sendable {
        /// RFC 1952 gzip; one or more members, nothing else after them.
        case gzip
        /// RFC 1950 zlib; exactly one stream.
        case zlib
    }

    /// The framing being read.
    public let format: Format
    /// The most output bytes that may be released, or nil for no limit.
    public var maxOutput: Int64? { limit.max }
    /// Output bytes released so far.
    public var totalOut: Int64 { limit.total }
    /// Complete members (gzip) or streams (zlib) read so far.
    public private(set) var membersCompleted = 0

    private let box = ZStreamBox()
    private var limit: OutputLimit
    private var buffer: [UInt8]
    private var inMember = false
    private var finished = false

    /// Prepares an inflater.
    /// - Parameters:
    ///   - format: gzip or zlib framing.
    ///   - maxOutput: the most bytes to release; more is an error.
    ///   - outputBufferSize: the largest piece handed to the callback.
    public init(format: Format, maxOutput: Int64? = nil, outputBufferSize: Int = 256 * 1024) {
        self.format = format
        self.limit = OutputLimit(max: maxOutput)
        self.buffer = [UInt8](repeating: 0, count: outputBufferSize)
        let bits = format == .gzip ? MAX_WBITS + 16 : MAX_WBITS
        let rc = archiver_inflateInit2(&box.stream, bits)
        precondition(rc == Z_OK, "zlib inflateInit2 failed (\(rc)): out of memory")
    }

    deinit { inflateEnd(&box.stream) }

    /// Inflates the next compressed bytes.
    /// - Parameters:
    ///   - input: compressed bytes, split anywhere.
    ///   - output: receives inflated bytes in order.
    /// - Throws: `CodecError` for corrupt data, data after the end of a zlib stream, or output past `maxOutput`;
    ///   anything `output` throws.
    public func feed(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !finished else { throw CodecError(.corrupt, "data after the end of the compressed stream") }
        guard let base = input.baseAddress, input.count > 0 else { return }
        let s = withUnsafeMutablePointer(to: &box.stream) { $0 }
        s.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        s.pointee.avail_in = uInt(input.count)
        defer {
            s.pointee.next_in = nil
            s.pointee.avail_in = 0
        }
        while s.pointee.avail_in > 0 {
            if !inMember {
                if format == .zlib && membersCompleted > 0 {
                    throw CodecError(.corrupt, "data after the end of the zlib stream")
                }
                if membersCompleted > 0 { inflateReset(s) }
                inMember = true
            }
            let rc: Int32 = buffer.withUnsafeMutableBytes { out in
                s.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                s.pointee.avail_out = uInt(out.count)
                return inflate(s, Z_NO_FLUSH)
            }
            let produced = buffer.count - Int(s.pointee.avail_out)
            try release(produced, output: output)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                if rc == Z_BUF_ERROR && produced == 0 && s.pointee.avail_in > 0 {
                    throw CodecError(.corrupt, "the compressed stream made no progress")
                }
            case Z_STREAM_END:
                inMember = false
                membersCompleted += 1
            case Z_NEED_DICT:
                throw CodecError(.corrupt, "the stream needs a preset dictionary, which this format never uses")
            case Z_MEM_ERROR:
                throw CodecError(.library, "zlib ran out of memory")
            default:
                let detail = s.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                let what = membersCompleted > 0 && format == .gzip ? " (in data after gzip member \(membersCompleted))" : ""
                throw CodecError(.corrupt, "corrupt \(format == .gzip ? "gzip" : "zlib") data\(what): \(detail)")
            }
        }
        // Drain output zlib still holds for this input (a member may end only after a further call).
        while inMember {
            let rc: Int32 = buffer.withUnsafeMutableBytes { out in
                s.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                s.pointee.avail_out = uInt(out.count)
                return inflate(s, Z_NO_FLUSH)
            }
            let produced = buffer.count - Int(s.pointee.avail_out)
            try release(produced, output: output)
            if rc == Z_STREAM_END {
                inMember = false
                membersCompleted += 1
            } else if rc == Z_OK && produced > 0 {
                continue
            } else if rc == Z_OK || rc == Z_BUF_ERROR {
                break
            } else {
                let detail = s.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw CodecError(.corrupt, "corrupt compressed data: \(detail)")
            }
        }
    }

    /// Declares the end of input.
    /// - Throws: `CodecError.truncated` when the input stopped inside a member or held no member at all.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if inMember {
            throw CodecError(.truncated, "the compressed stream is truncated (it ends inside member \(membersCompleted + 1))")
        }
        if membersCompleted == 0 {
            throw CodecError(.truncated, "the compressed stream is empty")
        }
    }

    private func release(_ count: Int, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard count > 0 else { return }
        try limit.admit(count, verb: "inflates")
        try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}
