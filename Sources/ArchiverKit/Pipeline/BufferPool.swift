import Synchronization

/// Recycles block buffers between pipeline threads so the hot loop does not allocate.
///
/// The number of buffers in existence is bounded by the coordinator's tickets, not by this pool.
final class BufferPool: Sendable {
    private let free = Mutex<[[UInt8]]>([])
    private let capacity: Int
    private let fixed: Bool

    /// Creates a pool of empty buffers that reserve `capacity` bytes (for outputs that are appended to).
    init(capacity: Int) {
        self.capacity = capacity
        self.fixed = false
    }

    /// Creates a pool of buffers of exactly `size` bytes (for inputs read into in place; zero-filled only once).
    init(fixedSize size: Int) {
        self.capacity = size
        self.fixed = true
    }

    /// A buffer: empty with `capacity` reserved, or of the fixed size.
    func take() -> [UInt8] {
        if let buffer = free.withLock({ $0.popLast() }) { return buffer }
        if fixed { return .untouched(count: capacity) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    /// Returns a buffer for reuse.
    func give(_ buffer: consuming [UInt8]) {
        var buffer = buffer
        if !fixed { buffer.removeAll(keepingCapacity: true) }
        free.withLock { $0.append(buffer) }
    }
}

extension Array where Element == UInt8 {
    /// A buffer of `count` bytes that is not zero-filled: large allocations come straight from `mmap`, so pages
    /// cost memory only once a read writes into them. Callers only ever read the bytes a read wrote.
    static func untouched(count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}
