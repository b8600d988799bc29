import Age

/// The last stage of encoding: cuts the payload into age chunks, seals them, hashes the stored bytes and hands
/// them to the sink in pieces of about a megabyte.
///
/// Age marks the final chunk, so the last chunk-sized piece is held back until more payload arrives or the end
/// is declared.
struct PayloadEmitter {
    private var encryptor: AgeEncryptor?
    private let sink: any ByteSink
    private(set) var hasher: StoredHasher
    private var carry: [UInt8] = []
    private var out: [UInt8] = []
    private let flushSize: Int

    init(encryptor: AgeEncryptor?, sink: any ByteSink, hasher: StoredHasher, flushSize: Int = 256 * 1024) {
        self.encryptor = encryptor
        self.sink = sink
        self.hasher = hasher
        self.flushSize = flushSize
        if let encryptor {
            carry.reserveCapacity(Age.chunkSize)
            out.reserveCapacity(flushSize + Age.chunkSize + 64 * 1024)
            out.append(contentsOf: encryptor.header)
        }
    }

    /// Takes the next payload bytes.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        guard encryptor != nil else {
            hasher.update(bytes)
            try sink.write(bytes)
            return
        }
        let chunk = Age.chunkSize
        var offset = 0
        if !carry.isEmpty {
            let n = min(chunk - carry.count, bytes.count)
            carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
            offset = n
            guard offset < bytes.count else { return }
            // More payload follows, so the held chunk is not the last one.
            try carry.withUnsafeBytes { try seal($0, isFinal: false) }
            carry.removeAll(keepingCapacity: true)
        }
        while bytes.count - offset > chunk {
            try seal(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + chunk]), isFinal: false)
            offset += chunk
        }
        carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
    }

    /// Seals the final chunk and flushes everything to the sink.
    mutating func finish() throws {
        if encryptor != nil {
            try carry.withUnsafeBytes { try seal($0, isFinal: true) }
            carry.removeAll()
        }
        try flush()
    }

    private mutating func seal(_ plaintext: UnsafeRawBufferPointer, isFinal: Bool) throws {
        try encryptor!.seal(plaintext, isFinal: isFinal, appendingTo: &out)
        if out.count >= flushSize { try flush() }
    }

    private mutating func flush() throws {
        guard !out.isEmpty else { return }
        try out.withUnsafeBytes { bytes in
            hasher.update(bytes)
            try sink.write(bytes)
        }
        out.removeAll(keepingCapacity: true)
    }
}
