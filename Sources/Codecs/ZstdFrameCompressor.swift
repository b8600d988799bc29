import CZstd

/// Compresses independent blocks into complete zstd frames.
///
/// Every parameter that shapes the output is pinned rather than left to libzstd's defaults: the level, a content
/// checksum (XXH64, low 4 bytes) in every frame, the block's size in the frame header, the window log, no dictionary
/// ID, and single-threaded compression. The output then depends only on the input, those settings and the libzstd
/// version. Frames are independent, so blocks can be compressed on several threads and concatenated in order;
/// `zstd -d` reads concatenated frames as one file.
public final class ZstdFrameCompressor {
    /// The zstd level, 1 (fastest) to 19.
    public let level: Int
    /// The window log every frame is made with (the frame header may state a smaller window for a small block).
    public let windowLog: Int
    private let context: OpaquePointer

    /// Prepares a compressor.
    /// - Parameters:
    ///   - level: zstd level 1–19.
    ///   - windowLog: the largest back-reference distance as a power of 2, 10 to `Zstd.maxWindowLog`; use
    ///     `Zstd.windowLog(covering:)` of the block size.
    /// - Throws: `CodecError` when a setting is out of range or libzstd cannot allocate its state.
    public init(level: Int, windowLog: Int) throws {
        guard Zstd.levels.contains(level) else {
            throw CodecError(
                .library, "zstd level \(level) is not in \(Zstd.levels.lowerBound)…\(Zstd.levels.upperBound)")
        }
        guard (Zstd.minWindowLog...Zstd.maxWindowLog).contains(windowLog) else {
            throw CodecError(
                .library, "zstd window log \(windowLog) is not in \(Zstd.minWindowLog)…\(Zstd.maxWindowLog)")
        }
        guard let context = ZSTD_createCCtx() else { throw CodecError(.library, "libzstd cannot allocate a context") }
        self.context = context
        self.level = level
        self.windowLog = windowLog
        let settings: [(ZSTD_cParameter, Int)] = [
            (ZSTD_c_compressionLevel, level),
            (ZSTD_c_windowLog, windowLog),
            (ZSTD_c_checksumFlag, 1),
            (ZSTD_c_contentSizeFlag, 1),
            (ZSTD_c_dictIDFlag, 0),
            // Threads inside libzstd would change the frame layout; the pipeline's workers give the parallelism.
            (ZSTD_c_nbWorkers, 0),
        ]
        for (parameter, value) in settings {
            do {
                try Zstd.check(ZSTD_CCtx_setParameter(context, parameter, Int32(value)), .library, "zstd setting")
            } catch {
                ZSTD_freeCCtx(context)
                throw error
            }
        }
    }

    deinit { ZSTD_freeCCtx(context) }

    /// An upper bound on the frame size for `count` input bytes, for sizing buffers.
    /// - Parameter count: input length.
    public static func maxFrameSize(forInputCount count: Int) -> Int { ZSTD_compressBound(count) }

    /// Compresses `input` as one complete zstd frame and appends it to `output`.
    /// - Parameters:
    ///   - input: the block; any size, including empty (an empty frame is 13 bytes).
    ///   - output: receives the frame.
    /// - Throws: `CodecError` if libzstd reports an error.
    public func compressFrame(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws {
        let start = output.count
        let bound = Self.maxFrameSize(forInputCount: input.count)
        output.append(contentsOf: repeatElement(0, count: bound))
        // ZSTD_compress2 starts a new frame with the sticky parameters above and the input's size pledged.
        let produced = try output.withUnsafeMutableBytes { out in
            try Zstd.check(
                ZSTD_compress2(context, out.baseAddress!.advanced(by: start), bound, input.baseAddress, input.count),
                .library, "zstd compression failed")
        }
        output.removeLast(bound - produced)
    }
}
