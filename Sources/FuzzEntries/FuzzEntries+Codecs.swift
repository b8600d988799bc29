import Codecs
import Foundation

extension FuzzEntries {
    /// The most the inflater may release per input: enough for several members, small enough that a bomb costs
    /// little (inflating is the whole cost of an input, and each input is inflated twice).
    static let inflateLimit: Int64 = 128 << 10

    /// The bounded gzip/zlib inflater: gzip when the input starts with gzip's magic, zlib otherwise.
    ///
    /// Invariants: never more than the limit is released; fed whole and fed in small pieces, the input inflates to
    /// the same bytes, or fails with the same kind of error after releasing one a prefix of the other's bytes (how
    /// far zlib gets before it notices depends on the pieces).
    /// - Parameter input: arbitrary bytes, standing for a whole compressed stream.
    public static func inflate(_ input: UnsafeRawBufferPointer) {
        let format: Inflater.Format = input.starts(with: [0x1f, 0x8b]) ? .gzip : .zlib
        let whole = inflate(input, format: format, pieceSize: max(1, input.count))
        let pieces = inflate(input, format: format, pieceSize: pieceSize(for: input))
        for run in [whole, pieces] {
            precondition(run.output.count <= inflateLimit, "the inflater released more than its limit")
        }
        precondition(whole.error == pieces.error, "the outcome depends on how the input was split")
        if whole.error == nil {
            precondition(whole.output == pieces.output, "the output depends on how the input was split")
        } else {
            let (short, long) = whole.output.count <= pieces.output.count ? (whole, pieces) : (pieces, whole)
            precondition(long.output.prefix(short.output.count) == short.output, "a failed stream released other bytes")
        }
    }

    private static func inflate(_ input: UnsafeRawBufferPointer, format: Inflater.Format, pieceSize: Int)
        -> (output: Data, error: CodecError.Kind?)
    {
        let inflater = Inflater(format: format, maxOutput: inflateLimit, outputBufferSize: 4096)
        // Data, not [UInt8]: appends and comparisons are memcpy and memcmp even in the unoptimized fuzz build.
        var output = Data()
        do {
            try inPieces(input, of: pieceSize) {
                try inflater.feed($0) { output.append($0.assumingMemoryBound(to: UInt8.self)) }
            }
            try inflater.finish()
            precondition(inflater.totalOut == Int64(output.count), "totalOut disagrees with the bytes released")
            return (output, nil)
        } catch let error as CodecError {
            return (output, error.kind)
        } catch {
            preconditionFailure("the inflater threw \(type(of: error)), not a CodecError: \(error)")
        }
    }
}
