import ArchiverTestSupport
import Codecs
import Foundation
import Testing

private let blockSize = 256 * 1024
private let zstdTool = "/usr/bin/zstd"

/// One frame per 256 KiB block, as the pipeline makes them.
private func frames(_ data: [UInt8], level: Int = 3) throws -> [UInt8] {
    let compressor = try ZstdFrameCompressor(level: level, windowLog: Zstd.windowLog(covering: blockSize))
    return try compressInBlocks(data, with: compressor, blockSize: blockSize)
}

/// Decodes through a small output buffer, so frames, feeds and output pieces never line up.
private func decompress(_ data: [UInt8], max: Int64? = nil, step: Int = 4096) throws -> [UInt8] {
    try decodeInPieces(data, with: ZstdDecompressor(maxOutput: max, outputBufferSize: 1000), step: step)
}

private func requireZstd() -> Bool {
    if CommandRunner.exists(zstdTool) { return true }
    if TestData.isCI { Issue.record("zstd is not installed (scripts/install-deps.sh installs it)") }
    return false
}

/// The frame header descriptor byte (RFC 8878 3.1.1.1.1) of the frame starting at `offset`.
private func descriptor(_ bytes: [UInt8], at offset: Int = 0) -> UInt8 {
    #expect(Array(bytes[offset..<offset + 4]) == [0x28, 0xb5, 0x2f, 0xfd], "zstd magic")
    return bytes[offset + 4]
}

@Suite struct ZstdTests {
    @Test(arguments: [0, 1, 65535, blockSize - 1, blockSize, blockSize + 1, 2 * blockSize, 3 * 1024 * 1024 + 7])
    func roundTripThroughStockZstd(size: Int) throws {
        let data = TestBytes.text(size, seed: UInt64(size))
        let zst = try frames(data)
        #expect(try decompress(zst) == data)
        guard requireZstd() else { return }
        let stock = try CommandRunner.run(zstdTool, ["-dc"], stdin: zst)
        #expect(stock.status == 0, "\(stock.stderr)")
        #expect(stock.stdout == data)
    }

    @Test func everyFrameCarriesAChecksumAndItsSizeAndNoDictionaryID() throws {
        let data = TestBytes.text(blockSize + 5000)
        let c = try ZstdFrameCompressor(level: 3, windowLog: 18)
        var first: [UInt8] = []
        var second: [UInt8] = []
        try data[..<blockSize].withUnsafeBytes { try c.compressFrame($0, appendingTo: &first) }
        try data[blockSize...].withUnsafeBytes { try c.compressFrame($0, appendingTo: &second) }
        for frame in [first, second] {
            let d = descriptor(frame)
            #expect(d & 0x04 != 0, "content checksum flag")
            #expect(d & 0x03 == 0, "no dictionary ID")
            #expect(d & 0xC0 != 0 || d & 0x20 != 0, "frame content size present")
        }
        // The stock tool agrees on the content sizes and checksums.
        guard requireZstd() else { return }
        let dir = try TemporaryDirectory()
        let file = try dir.write("x.zst", first + second)
        let listing = try CommandRunner.run(zstdTool, ["-lv", file.path])
        #expect(listing.status == 0, "\(listing.stderr)")
        #expect(
            listing.stdoutText.contains("# Frames: 2") || listing.stdoutText.contains("Frames: 2"),
            "\(listing.stdoutText)")
        #expect(listing.stdoutText.contains("Check: XXH64"), "\(listing.stdoutText)")
    }

    @Test func readsStockZstdOutputIncludingSeveralFrames() throws {
        guard requireZstd() else { return }
        let a = TestBytes.text(500_000, seed: 7)
        let b = TestBytes.random(70_000, seed: 8)
        let za = try CommandRunner.run(zstdTool, ["-c", "-19"], stdin: a).stdout
        let zb = try CommandRunner.run(zstdTool, ["-c", "-1", "--no-check"], stdin: b).stdout
        #expect(try decompress(za + zb, step: 1) == a + b)
        // A skippable frame (magic 0x184D2A50, 4-byte length, data) is passed over, as `zstd -d` does.
        let skippable: [UInt8] = [0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]
        #expect(try decompress(skippable + za) == a)
    }

    @Test func outputIsDeterministicAndLevelsDiffer() throws {
        let data = TestBytes.text(1_500_000)
        #expect(try frames(data, level: 3) == frames(data, level: 3))
        #expect(try frames(data, level: 1) != frames(data, level: 19))
        #expect(try ZstdFrameCompressor(level: 19, windowLog: 18).level == 19)
        #expect(throws: CodecError.self) { try ZstdFrameCompressor(level: 0, windowLog: 18) }
        #expect(throws: CodecError.self) { try ZstdFrameCompressor(level: 20, windowLog: 18) }
        #expect(throws: CodecError.self) { try ZstdFrameCompressor(level: 3, windowLog: 30) }
        #expect(Zstd.windowLog(covering: 256 * 1024) == 18)
        #expect(Zstd.windowLog(covering: 1) == 10)
        #expect(Zstd.windowLog(covering: 1 << 30) == Zstd.maxWindowLog)
        #expect(Zstd.version.hasPrefix("1."))
    }

    @Test func truncatedStreamIsRefused() throws {
        let zst = try frames(TestBytes.text(600_000))
        for cut in [1, 4, 5, 9, 50, zst.count / 2, zst.count - 4, zst.count - 1] {
            #expect(throws: CodecError.self, "cut at \(cut)") { _ = try decompress(Array(zst.prefix(cut))) }
        }
        #expect(throws: CodecError(.truncated, "the compressed stream is empty")) { _ = try decompress([]) }
        let e = #expect(throws: CodecError.self) { _ = try decompress(Array(zst.prefix(zst.count - 1))) }
        #expect(e?.kind == .truncated)
    }

    @Test func corruptChecksumAndTrailingGarbageAreRefused() throws {
        let good = try frames(TestBytes.text(100_000))
        var flipped = good
        flipped[good.count - 2] ^= 0x01  // the checksum of the last frame
        let e = #expect(throws: CodecError.self) { _ = try decompress(flipped) }
        #expect(e?.message.contains("checksum") == true, "\(e?.message ?? "")")
        for tail: [UInt8] in [[0, 0, 0, 0], [0x42], [0x28], [0x28, 0xb5, 0x2f, 0xfd], Array("garbage".utf8)] {
            #expect(throws: CodecError.self, "tail \(tail)") { _ = try decompress(good + tail) }
        }
        let garbage = #expect(throws: CodecError.self) { _ = try decompress(good + [0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(garbage?.message.contains("after zstd frame 1") == true, "\(garbage?.message ?? "")")
        let decoder = ZstdDecompressor()
        try good.withUnsafeBytes { try decoder.feed($0) { _ in } }
        try decoder.finish()
        #expect(throws: CodecError.self) { try [UInt8(1)].withUnsafeBytes { try decoder.feed($0) { _ in } } }
    }

    @Test func bombStopsAtTheLimit() throws {
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        let zst = try frames(zeros, level: 19)
        #expect(zst.count < 20_000)
        var released: Int64 = 0
        let decoder = ZstdDecompressor(maxOutput: 1_000_000)
        let e = #expect(throws: CodecError.self) {
            try zst.withUnsafeBytes { try decoder.feed($0) { released += Int64($0.count) } }
        }
        #expect(e?.kind == .tooLarge)
        #expect(released <= 1_000_000)
        #expect(try decompress(zst, max: Int64(zeros.count)).count == zeros.count)
    }

    @Test func aFrameAskingForAHugeWindowIsRefused() throws {
        guard requireZstd() else { return }
        // Streamed input has no known size, so --long=27 writes a 128 MiB window into the frame header.
        let data = TestBytes.text(100_000)
        let zst = try CommandRunner.run(zstdTool, ["-c", "--long=27", "-"], stdin: data).stdout
        let e = #expect(throws: CodecError.self) { _ = try decompress(zst) }
        #expect(e?.kind == .tooLarge, "\(e?.message ?? "")")
        #expect(e?.message.contains("window") == true)
    }
}
