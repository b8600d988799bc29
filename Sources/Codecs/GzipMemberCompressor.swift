import CZlib

/// Compresses independent blocks into complete gzip members.
///
/// Each call produces one member with a fixed 10-byte header (no name, MTIME 0, XFL 0, OS 255) so that the
/// output depends only on the input, the level and the zlib version. Members are independent, so blocks can be
/// compressed on several threads and concatenated in order; `gunzip` reads concatenated members as one file.
public final class GzipMemberCompressor {
    /// The fixed header every member starts with (RFC 1952: ID1 ID2 CM FLG MTIME×4 XFL OS).
    public static let header: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]
    /// Bytes a member adds around the deflate data: the header and the CRC-32/ISIZE trailer.
    public static let framingSize = 18

    /// The deflate level, 1 (fastest) to 9 (smallest).
    public let level: Int
    private let box = ZStreamBox()

    /// Prepares a compressor.
    /// - Parameter level: zlib level 1–9.
    /// - Throws: `CodecError` when the level is out of range or zlib cannot allocate its state.
    public init(level: Int) throws {
        guard (1...9).contains(level) else {
            throw CodecError(.library, "gzip level \(level) is not in 1…9")
        }
        self.level = level
        // Raw deflate (negative window bits): the gzip framing is written here, not by zlib, to fix its fields.
        let rc = archiver_deflateInit2(&box.stream, Int32(level), -MAX_WBITS, 8, Z_DEFAULT_STRATEGY)
        guard rc == Z_OK else { throw CodecError(.library, "zlib deflateInit2 failed (\(rc))") }
    }

    deinit { deflateEnd(&box.stream) }

    /// An upper bound on the member size for `count` input bytes, for sizing buffers.
    /// - Parameter count: input length.
    public func maxMemberSize(forInputCount count: Int) -> Int {
        Int(deflateBound(&box.stream, uLong(count))) + Self.framingSize
    }

    /// Compresses `input` as one complete gzip member and appends it to `output`.
    /// - Parameters:
    ///   - input: the block; any size, including empty (an empty member is 20 bytes).
    ///   - output: receives the member.
    /// - Throws: `CodecError` if zlib reports an error.
    public func compressMember(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws {
        guard deflateReset(&box.stream) == Z_OK else { throw CodecError(.library, "zlib deflateReset failed") }
        output.append(contentsOf: Self.header)
        let start = output.count
        let bound = Int(deflateBound(&box.stream, uLong(input.count)))
        output.append(contentsOf: repeatElement(0, count: bound))
        let produced: Int = try output.withUnsafeMutableBytes { out in
            let s = withUnsafeMutablePointer(to: &box.stream) { $0 }
            s.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            s.pointee.avail_in = uInt(input.count)
            s.pointee.next_out = out.baseAddress!.advanced(by: start).assumingMemoryBound(to: Bytef.self)
            s.pointee.avail_out = uInt(bound)
            let rc = deflate(s, Z_FINISH)
            guard rc == Z_STREAM_END else { throw CodecError(.library, "zlib deflate failed (\(rc))") }
            return bound - Int(s.pointee.avail_out)
        }
        output.removeLast(bound - produced)
        let crc = Zlib.crc32(input)
        let size = UInt32(truncatingIfNeeded: input.count)
        for value in [crc, size] {
            withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
        }
    }
}
