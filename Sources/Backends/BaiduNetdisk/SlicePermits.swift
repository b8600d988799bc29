import Foundation
import Synchronization

/// Counts slice buffers so no more than `upload_concurrency` exist at once, the one being filled included.
///
/// The pipeline thread blocks in `acquire()` until an upload hands its buffer back; that thread is the pipeline's
/// own, never one of the concurrency pool's.
final class SlicePermits: Sendable {
    private let condition = NSCondition()
    private let available: Mutex<Int>

    init(_ count: Int) {
        available = Mutex(max(1, count))
    }

    /// Waits for a free buffer slot.
    func acquire() {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let taken = available.withLock { count in
                guard count > 0 else { return false }
                count -= 1
                return true
            }
            if taken { return }
            condition.wait()
        }
    }

    /// Gives a slot back.
    func release() {
        condition.lock()
        available.withLock { $0 += 1 }
        condition.signal()
        condition.unlock()
    }
}
