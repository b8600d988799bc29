import CZlib

/// Facts about the zlib the program is linked against.
public enum Zlib {
    /// The runtime zlib version (for example "1.2.13"). Deflate output may differ between versions, so this is
    /// part of the pipeline-format id that deterministic regeneration checks.
    public static var version: String { String(cString: zlibVersion()) }

    /// CRC-32 (the gzip trailer checksum) of `bytes`, continuing from `crc`.
    /// - Parameters:
    ///   - bytes: data to checksum.
    ///   - crc: the running value; 0 to start.
    public static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        var value = UInt(crc)
        var offset = 0
        // zlib's length parameter is 32-bit; feed very large buffers in pieces.
        while offset < bytes.count {
            let n = min(bytes.count - offset, Int(UInt32.max >> 1))
            value = CZlib.crc32(value, base.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: value)
    }
}

/// zlib's z_stream lives on the heap so its address stays fixed (zlib keeps a pointer back to it).
final class ZStreamBox {
    var stream = z_stream()
}
