/// A compressor whose every call makes one complete, independent unit: a gzip member or a zstd frame.
///
/// Units need nothing from each other, so blocks can be compressed on several threads and concatenated in order,
/// and the stock tools (`gunzip`, `zstd -d`) read the concatenation as one stream.
public protocol BlockCompressor: AnyObject {
    /// Compresses `input` as one complete unit and appends it to `output`.
    /// - Parameters:
    ///   - input: the block; any size, including empty.
    ///   - output: receives the unit.
    /// - Throws: `CodecError` if the library reports an error.
    func compressBlock(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws
}

/// A bounded streaming decoder of a sequence of units (gzip members, zstd frames).
///
/// Input is consumed as it is fed and output leaves through the callback in pieces of bounded size. A decoder
/// with an output limit stops with `.tooLarge` before a byte past it is released; data after the last unit and
/// input that ends inside a unit are refused.
public protocol StreamDecompressor: AnyObject {
    /// Decodes the next compressed bytes.
    /// - Parameters:
    ///   - input: compressed bytes, split anywhere.
    ///   - output: receives decoded bytes in order.
    /// - Throws: `CodecError` for corrupt data or output past the limit; anything `output` throws.
    func feed(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws

    /// Declares the end of input.
    /// - Throws: `CodecError.truncated` when the input stopped inside a unit or held none.
    func finish() throws
}

extension GzipMemberCompressor: BlockCompressor {
    /// Compresses `input` as one gzip member (see `compressMember(_:appendingTo:)`).
    /// - Parameters:
    ///   - input: the block.
    ///   - output: receives the member.
    /// - Throws: `CodecError` if zlib reports an error.
    public func compressBlock(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws {
        try compressMember(input, appendingTo: &output)
    }
}

extension ZstdFrameCompressor: BlockCompressor {
    /// Compresses `input` as one zstd frame (see `compressFrame(_:appendingTo:)`).
    /// - Parameters:
    ///   - input: the block.
    ///   - output: receives the frame.
    /// - Throws: `CodecError` if libzstd reports an error.
    public func compressBlock(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws {
        try compressFrame(input, appendingTo: &output)
    }
}

extension Inflater: StreamDecompressor {}

/// The output a decoder has released, against its optional limit; shared so every format refuses a bomb alike.
struct OutputLimit {
    /// The most bytes that may be released, or nil for no limit.
    let max: Int64?
    /// Bytes released so far.
    private(set) var total: Int64 = 0

    /// Counts `count` more bytes, or refuses them when they would pass the limit.
    /// - Parameters:
    ///   - count: the bytes about to be released.
    ///   - verb: how the format says it (`inflates`, `decompresses`), for the message.
    /// - Throws: `CodecError.tooLarge` when the limit would be passed; nothing is counted then.
    mutating func admit(_ count: Int, verb: String) throws {
        if let max, total + Int64(count) > max {
            throw CodecError(.tooLarge, "the data \(verb) to more than the limit of \(max) bytes")
        }
        total += Int64(count)
    }
}
