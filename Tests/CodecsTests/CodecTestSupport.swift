import Codecs

/// Compresses `data` the way the pipeline does: one unit (gzip member, zstd frame) per block of `blockSize` bytes,
/// and an empty input as one unit of empty input.
func compressInBlocks(_ data: [UInt8], with compressor: any BlockCompressor, blockSize: Int) throws -> [UInt8] {
    var out: [UInt8] = []
    if data.isEmpty {
        try compressor.compressBlock(UnsafeRawBufferPointer(start: nil, count: 0), appendingTo: &out)
    }
    var offset = 0
    while offset < data.count {
        let end = min(offset + blockSize, data.count)
        try data[offset..<end].withUnsafeBytes { try compressor.compressBlock($0, appendingTo: &out) }
        offset = end
    }
    return out
}

/// Decodes `data` fed in pieces of `step` bytes, so units, feeds and output pieces never line up, then finishes.
func decodeInPieces(_ data: [UInt8], with decoder: any StreamDecompressor, step: Int) throws -> [UInt8] {
    var out: [UInt8] = []
    var offset = 0
    while offset < data.count {
        let end = min(offset + step, data.count)
        try data[offset..<end].withUnsafeBytes { try decoder.feed($0) { out.append(contentsOf: $0) } }
        offset = end
    }
    try decoder.finish()
    return out
}
