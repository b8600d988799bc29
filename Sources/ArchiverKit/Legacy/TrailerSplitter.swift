/// Splits a stream of unknown length into whole cipher blocks and what follows the ciphertext at its very end (a
/// MAC, AES Crypt's size byte), without reading ahead: it always holds back the trailer and one more block, so the
/// final block (whose padding must be removed) and the trailer are only seen by `finish`.
///
/// The buffer is reused; it holds one fed chunk plus fewer than `trailer + 32` bytes.
struct TrailerSplitter {
    /// Bytes after the ciphertext.
    let trailer: Int
    private var held: [UInt8] = []
    private var keep: Int { trailer + CBCChain.blockSize }

    /// - Parameters:
    ///   - trailer: the size of what follows the ciphertext.
    ///   - chunk: the largest piece `feed` will be given, to size the buffer once.
    init(trailer: Int, chunk: Int) {
        self.trailer = trailer
        held.reserveCapacity(chunk + trailer + 2 * CBCChain.blockSize)
    }

    /// Takes the next piece of the stream and hands on every whole block that is certainly neither the last block
    /// nor part of the trailer.
    mutating func feed(
        _ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        held.append(contentsOf: bytes)
        guard held.count > keep else { return }
        let ready = (held.count - keep) / CBCChain.blockSize * CBCChain.blockSize
        guard ready > 0 else { return }
        try held.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[..<ready])) }
        held.removeFirst(ready)
    }

    /// The bytes held back at the end of the stream: the ciphertext not yet handed on, and the trailer.
    /// - Returns: nil when the stream is shorter than the trailer or its ciphertext is not whole blocks (truncated).
    func finish<R>(_ body: (_ lastBlocks: UnsafeRawBufferPointer, _ trailer: UnsafeRawBufferPointer) throws -> R)
        rethrows -> R?
    {
        guard held.count >= trailer, (held.count - trailer) % CBCChain.blockSize == 0 else { return nil }
        return try held.withUnsafeBytes { raw in
            let split = raw.count - trailer
            return try body(
                UnsafeRawBufferPointer(rebasing: raw[..<split]), UnsafeRawBufferPointer(rebasing: raw[split...]))
        }
    }
}
