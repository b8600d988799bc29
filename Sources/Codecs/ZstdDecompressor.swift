import CZstd

/// Streaming decoder for zstd data: any number of concatenated frames, nothing else after them.
///
/// The same contract as `Inflater`: memory is bounded (a window of at most 2^`Zstd.maxWindowLog` bytes, and output
/// leaves through the callback in pieces of at most `outputBufferSize` bytes); with `maxOutput` set, decoding stops
/// with `.tooLarge` before a byte past the limit is released, which defuses zstd bombs. Every frame's checksum, when
/// it has one, is verified by libzstd. Skippable frames are passed over, as `zstd -d` does.
public final class ZstdDecompressor: StreamDecompressor {
    /// The most output bytes that may be released, or nil for no limit.
    public var maxOutput: Int64? { limit.max }
    /// Output bytes released so far.
    public var totalOut: Int64 { limit.total }
    /// Complete frames read so far.
    public private(set) var framesCompleted = 0

    private let context: OpaquePointer
    private var limit: OutputLimit
    private var buffer: [UInt8]
    private var inFrame = false
    private var finished = false

    /// Prepares a decoder.
    /// - Parameters:
    ///   - maxOutput: the most bytes to release; more is an error.
    ///   - outputBufferSize: the largest piece handed to the callback.
    public init(maxOutput: Int64? = nil, outputBufferSize: Int = 256 * 1024) {
        guard let context = ZSTD_createDCtx() else { preconditionFailure("libzstd cannot allocate a context") }
        self.context = context
        self.limit = OutputLimit(max: maxOutput)
        self.buffer = [UInt8](repeating: 0, count: outputBufferSize)
        let rc = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(Zstd.maxWindowLog))
        precondition(ZSTD_isError(rc) == 0, "libzstd refused the window limit")
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decodes the next compressed bytes.
    /// - Parameters:
    ///   - input: compressed bytes, split anywhere.
    ///   - output: receives decoded bytes in order.
    /// - Throws: `CodecError` for corrupt data (including a checksum mismatch or bytes after the last frame that do
    ///   not start a frame), a frame needing a window past the limit, or output past `maxOutput`; anything `output`
    ///   throws.
    public func feed(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !finished else { throw CodecError(.corrupt, "data after the end of the compressed stream") }
        guard let base = input.baseAddress, input.count > 0 else { return }
        var source = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        var outputFull = false
        // libzstd may hold decoded bytes back when the output buffer fills; call again until it has none left.
        while source.pos < source.size || outputFull {
            let consumedBefore = source.pos
            let (rc, produced) = buffer.withUnsafeMutableBytes { out in
                var sink = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let rc = ZSTD_decompressStream(context, &sink, &source)
                return (rc, sink.pos)
            }
            if ZSTD_isError(rc) != 0 { throw failure(rc) }
            try release(produced, output: output)
            if rc == 0 {
                // 0: a frame ended and everything it held was flushed.
                inFrame = false
                framesCompleted += 1
            } else {
                inFrame = true
            }
            outputFull = rc != 0 && produced == buffer.count
            if produced == 0 && source.pos == consumedBefore && !outputFull {
                throw CodecError(.corrupt, "the compressed stream made no progress")
            }
        }
    }

    /// Declares the end of input.
    /// - Throws: `CodecError.truncated` when the input stopped inside a frame or held no frame at all.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if inFrame {
            throw CodecError(
                .truncated, "the compressed stream is truncated (it ends inside frame \(framesCompleted + 1))")
        }
        if framesCompleted == 0 {
            throw CodecError(.truncated, "the compressed stream is empty")
        }
    }

    private func release(_ count: Int, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard count > 0 else { return }
        try limit.admit(count, verb: "decompresses")
        try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    private func failure(_ rc: Int) -> CodecError {
        let name = String(cString: ZSTD_getErrorName(rc))
        let frame = "in frame \(framesCompleted + 1)"
        switch ZSTD_getErrorCode(rc) {
        case ZSTD_error_frameParameter_windowTooLarge:
            return CodecError(
                .tooLarge,
                "a zstd frame (\(frame)) needs a window larger than \(1 << (Zstd.maxWindowLog - 20)) MiB; "
                    + "archiver refuses it to bound memory (zstd --long or --ultra output)")
        case ZSTD_error_checksum_wrong:
            return CodecError(
                .corrupt, "corrupt zstd data: the checksum of frame \(framesCompleted + 1) does not match")
        case ZSTD_error_prefix_unknown where !inFrame && framesCompleted > 0:
            return CodecError(.corrupt, "data after zstd frame \(framesCompleted) is not a zstd frame")
        default:
            return CodecError(.corrupt, "corrupt zstd data (\(frame)): \(name)")
        }
    }
}
