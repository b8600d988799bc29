import Codecs
import Foundation
import Testing

/// Runs a program, feeding `input` on stdin, and returns its stdout and exit status.
private func run(_ path: String, _ args: [String], input: [UInt8]) throws -> (out: [UInt8], status: Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let stdin = Pipe()
    let stdout = Pipe()
    p.standardInput = stdin
    p.standardOutput = stdout
    p.standardError = FileHandle.nullDevice
    try p.run()
    let writer = Thread {
        stdin.fileHandleForWriting.write(Data(input))
        try? stdin.fileHandleForWriting.close()
    }
    writer.start()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ([UInt8](out), p.terminationStatus)
}

private func compress(_ data: [UInt8], level: Int = 6, blockSize: Int = 1 << 20) throws -> [UInt8] {
    try compressInBlocks(data, with: GzipMemberCompressor(level: level), blockSize: blockSize)
}

private func inflate(_ data: [UInt8], format: Inflater.Format = .gzip, max: Int64? = nil, step: Int = 4096) throws
    -> [UInt8]
{
    try decodeInPieces(data, with: Inflater(format: format, maxOutput: max, outputBufferSize: 1000), step: step)
}

private func textLike(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    let words = ["backup ", "archive ", "photo ", "netdisk ", "stream ", "chunk ", "\n", "2026 ", "age "]
    var rng = seed
    var out: [UInt8] = []
    out.reserveCapacity(count)
    while out.count < count {
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        out.append(contentsOf: words[Int(rng >> 33) % words.count].utf8)
    }
    return Array(out.prefix(count))
}

@Suite struct GzipTests {
    @Test(arguments: [0, 1, 65535, 65536, 65537, 3 * 1024 * 1024 + 7])
    func roundTripThroughStockGunzip(size: Int) throws {
        let data = textLike(size)
        let gz = try compress(data, level: 1, blockSize: 1 << 20)
        #expect(Array(gz.prefix(10)) == GzipMemberCompressor.header)
        let (out, status) = try run("/usr/bin/gzip", ["-dc"], input: gz)
        #expect(status == 0)
        #expect(out == data)
        #expect(try inflate(gz) == data)
    }

    @Test func readsStockGzipOutput() throws {
        let data = textLike(500_000, seed: 7)
        let (gz, status) = try run("/usr/bin/gzip", ["-c", "-9"], input: data)
        #expect(status == 0)
        #expect(try inflate(gz, step: 1) == data)
    }

    @Test func outputIsDeterministic() throws {
        let data = textLike(2_500_000)
        #expect(try compress(data, level: 1) == compress(data, level: 1))
        #expect(try compress(data, level: 1) != compress(data, level: 9))
    }

    @Test func truncatedStreamIsRefused() throws {
        let gz = try compress(textLike(200_000))
        for cut in [1, 9, 10, 50, gz.count / 2, gz.count - 8, gz.count - 1] {
            #expect(throws: CodecError.self) { _ = try inflate(Array(gz.prefix(cut))) }
        }
        #expect(throws: CodecError(.truncated, "the compressed stream is empty")) { _ = try inflate([]) }
    }

    @Test func corruptTrailerAndTrailingGarbageAreRefused() throws {
        var gz = try compress(textLike(100_000))
        gz[gz.count - 6] ^= 0x01  // CRC-32
        #expect(throws: CodecError.self) { _ = try inflate(gz) }
        let good = try compress(textLike(100_000))
        #expect(throws: CodecError.self) { _ = try inflate(good + [0, 0, 0, 0]) }
        #expect(throws: CodecError.self) { _ = try inflate(good + [0x1f]) }
    }

    @Test func bombStopsAtTheLimit() throws {
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        let gz = try compress(zeros, level: 9, blockSize: 8 << 20)
        #expect(gz.count < 20_000)
        var released: Int64 = 0
        let inflater = Inflater(format: .gzip, maxOutput: 1_000_000)
        #expect(throws: CodecError.self) {
            try gz.withUnsafeBytes { try inflater.feed($0) { released += Int64($0.count) } }
        }
        #expect(released <= 1_000_000)
        #expect(try inflate(gz, max: Int64(zeros.count)).count == zeros.count)
    }

    @Test func zlibFormatAndVersion() throws {
        let data = textLike(70_000)
        let (gz, _) = try run("/usr/bin/python3", ["-c", "import sys,zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))"], input: data)
        #expect(try inflate(gz, format: .zlib) == data)
        #expect(throws: CodecError.self) { _ = try inflate(gz + [1], format: .zlib) }
        #expect(Zlib.version.hasPrefix("1."))
    }
}
