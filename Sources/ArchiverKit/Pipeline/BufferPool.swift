import Synchronization

/// Recycles block buffers between pipeline threads so the hot loop does not allocate.
///
/// The number of buffers in existence is bounded by the coordinator's tickets, not by this pool.
final class BufferPool: Sendable {
    private let free = Mutex<[[UInt8]]>([])
    private let capacity: Int

    /// Creates a pool of buffers that reserve `capacity` bytes.
    init(capacity: Int) { self.capacity = capacity }

    /// An empty buffer with at least `capacity` bytes reserved.
    func take() -> [UInt8] {
        if let buffer = free.withLock({ $0.popLast() }) { return buffer }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    /// Returns a buffer for reuse; its contents are discarded.
    func give(_ buffer: consuming [UInt8]) {
        var buffer = buffer
        buffer.removeAll(keepingCapacity: true)
        free.withLock { $0.append(buffer) }
    }
}
