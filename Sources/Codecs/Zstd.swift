import CZstd

/// Facts about the libzstd the program is linked against.
public enum Zstd {
    /// The runtime libzstd version (for example "1.5.4"). Compressed output may differ between versions, so this is
    /// part of the pipeline-format id that deterministic regeneration checks, as zlib's version is.
    public static var version: String { String(cString: ZSTD_versionString()) }

    /// The levels archiver offers: 1 to 19 (20–22 are zstd's `--ultra` levels, which need a large window and
    /// memory to match).
    public static let levels = 1...19

    /// The level `zstd` alone means, as the `zstd` command's own default.
    public static let defaultLevel = 3

    /// The largest window a frame may ask of the decoder, as a power of 2 (8 MiB): every level `zstd` offers without
    /// `--long` or `--ultra` fits, and a hostile frame cannot make the decoder allocate more.
    public static let maxWindowLog = 23

    /// The smallest window log libzstd accepts (ZSTD_WINDOWLOG_MIN, a macro Swift does not import).
    static let minWindowLog = 10

    /// The window log that covers one block of `blockSize` bytes: the frame compressor never needs to look further
    /// back than its own block, since frames are independent.
    /// - Parameter blockSize: plaintext bytes per frame.
    public static func windowLog(covering blockSize: Int) -> Int {
        var log = minWindowLog
        while log < maxWindowLog && (1 << log) < blockSize { log += 1 }
        return log
    }

    /// Turns a libzstd return value into a `CodecError` when it is an error code.
    /// - Parameters:
    ///   - code: what a libzstd call returned.
    ///   - kind: the category to report.
    ///   - what: the operation, for the message.
    /// - Returns: `code`, when it is not an error.
    @discardableResult
    static func check(_ code: Int, _ kind: CodecError.Kind, _ what: String) throws -> Int {
        guard ZSTD_isError(code) != 0 else { return code }
        throw CodecError(kind, "\(what): \(String(cString: ZSTD_getErrorName(code)))")
    }
}
