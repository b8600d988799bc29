import Age
import ArchiverTestSupport
import Codecs
import Foundation
import Testing

/// The C2SP CCTV age vectors: every non-armored, non-post-quantum vector must decrypt, or fail, exactly as
/// its `expect` line says, and release exactly the plaintext its `payload` digest names.
@Suite struct CCTVTests {
    /// One parsed vector file.
    struct Vector {
        var name: String
        var expect = ""
        var payload: String?
        var identities: [String] = []
        var passphrases: [String] = []
        var armored = false
        var compressed = false
        var body: [UInt8] = []
    }

    /// How an `expect` line maps to our outcome.
    enum Outcome: Equatable {
        case success
        case failure(AgeError.Kind)
    }

    struct VectorError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The payload failures that are `.truncated`: the payload stops at a chunk boundary without a final chunk
    /// (the last full chunk authenticates as non-final), or inside what must be a 16-byte tag. Every other
    /// payload failure (a chunk that does not authenticate, a short chunk not marked final, an empty final
    /// chunk after others, data after the final chunk) must be `.payload`.
    static let truncatedVectors: Set<String> = [
        "stream_no_chunks", "stream_no_final_full", "stream_no_final_two_chunks_full", "stream_missing_tag",
        "stream_short_chunk", "stream_short_second_chunk",
    ]

    /// The one header failure that is a different version rather than a malformed header.
    static let unsupportedVersionVectors: Set<String> = ["version_unsupported"]

    static func expectedOutcome(_ vector: Vector) -> Outcome? {
        switch vector.expect {
        case "success":
            return .success
        case "no match":
            return .failure(.noMatch)
        case "HMAC failure":
            return .failure(.hmacMismatch)
        case "header failure":
            return .failure(unsupportedVersionVectors.contains(vector.name) ? .unsupportedVersion : .header)
        case "payload failure":
            return .failure(truncatedVectors.contains(vector.name) ? .truncated : .payload)
        default:
            return nil
        }
    }

    static func parse(name: String, file: [UInt8]) throws -> Vector {
        var vector = Vector(name: name)
        var position = 0
        while true {
            guard let newline = file[position...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw VectorError("\(name): no blank line after the metadata")
            }
            let line = String(decoding: file[position..<newline], as: UTF8.self)
            position = newline + 1
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw VectorError("\(name): bad line \(line)") }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "expect": vector.expect = value
            case "payload": vector.payload = value
            case "identity": vector.identities.append(value)
            case "passphrase": vector.passphrases.append(value)
            case "armored": vector.armored = value == "yes"
            case "compressed":
                guard value == "zlib" else { throw VectorError("\(name): unknown compression \(value)") }
                vector.compressed = true
            case "file key", "comment": break
            default: throw VectorError("\(name): unknown key \(key)")
            }
        }
        vector.body = Array(file[position...])
        if vector.compressed {
            let inflater = Inflater(format: .zlib, maxOutput: nil)
            var inflated: [UInt8] = []
            try vector.body.withUnsafeBytes { buffer in
                try inflater.feed(buffer) { inflated.appendBytes($0) }
            }
            try inflater.finish()
            vector.body = inflated
        }
        return vector
    }

    /// Decrypts a vector with its identities, feeding it in the given piece sizes (cycled).
    /// Returns the error, if any, and all plaintext released (even before an error).
    static func run(_ vector: Vector, pieces: [Int]) throws -> (error: AgeError?, released: [UInt8]) {
        var identities: [any AgeIdentity] = try vector.identities.map { try X25519Identity($0) }
        identities += vector.passphrases.map { ScryptIdentity(passphrase: $0) }
        var decryptor = AgeDecryptor(identities: identities)
        var released: [UInt8] = []
        do {
            try vector.body.withUnsafeBytes { all in
                var offset = 0
                var pieceIndex = 0
                while offset < all.count {
                    let size = min(pieces[pieceIndex % pieces.count], all.count - offset)
                    pieceIndex += 1
                    try decryptor.feed(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + size)])) {
                        released.appendBytes($0)
                    }
                    offset += size
                }
            }
            try decryptor.finish { released.appendBytes($0) }
            return (nil, released)
        } catch let error as AgeError {
            return (error, released)
        }
    }

    @Test func vectors() throws {
        guard let root = TestData.root() else {
            if TestData.isCI {
                Issue.record("the CCTV vectors (shared/testdata/age-cctv) are missing in CI")
            } else {
                print("CCTV: skipped, shared/testdata not found (set ARCHIVER_TESTDATA)")
            }
            return
        }
        let folder = root.appendingPathComponent("age-cctv")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let vectorNames = names.filter { $0 != "README.md" && !$0.hasPrefix(".") }.sorted()
        guard !vectorNames.isEmpty else {
            if TestData.isCI {
                Issue.record("no CCTV vectors found in \(folder.path)")
            } else {
                print("CCTV: skipped, no vectors in \(folder.path)")
            }
            return
        }

        var ran = 0
        var skipped = 0
        for name in vectorNames {
            let file = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            let vector = try Self.parse(name: name, file: file)
            if vector.armored || name.hasPrefix("hybrid") {
                skipped += 1
                continue
            }
            guard let expected = Self.expectedOutcome(vector) else {
                Issue.record("\(name): unknown expectation \"\(vector.expect)\"")
                continue
            }
            ran += 1
            let (error, released) = try Self.run(vector, pieces: [Int.max])
            let digest = SHA256Digest.hex(released)
            switch expected {
            case .success:
                #expect(error == nil, "\(name): expected success, got \(String(describing: error))")
                #expect(digest == vector.payload, "\(name): plaintext digest differs")
            case .failure(let kind):
                #expect(error?.kind == kind, "\(name): expected \(kind), got \(String(describing: error))")
                if let payload = vector.payload {
                    #expect(digest == payload, "\(name): released plaintext differs from what may be released")
                }
            }
            // Again in odd pieces: neither the outcome nor the plaintext may depend on how input is split.
            let (splitError, splitReleased) = try Self.run(vector, pieces: [1, 7, 1000, 3, 65537])
            #expect(splitError == error, "\(name): outcome differs when fed in pieces")
            #expect(splitReleased == released, "\(name): plaintext differs when fed in pieces")
        }
        print("CCTV: \(ran) vectors ran, \(skipped) skipped (armored or post-quantum)")
        if ran == 0 && TestData.isCI {
            Issue.record("no CCTV vector ran")
        }
    }
}

@Suite struct SHA256DigestTests {
    @Test func knownDigests() {
        #expect(SHA256Digest.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
