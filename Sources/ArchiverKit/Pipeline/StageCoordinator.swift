import Foundation

/// Joins the pipeline's threads: a ticket budget that bounds how many blocks exist at once, a FIFO of blocks
/// waiting for a worker, an in-order mailbox for finished blocks, and one failure that stops everybody.
///
/// Every block holds a ticket from the moment it is read until the last stage is done with it, so memory is
/// `tickets × block size` (twice that with compression), whatever the file size. One lock and one condition
/// serve all of it: at megabyte granularity the pipeline takes about a thousand turns a second, far below
/// contention.
final class StageCoordinator<Work: Sendable, Done: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var tickets: Int
    // Taken slots are cleared at once: a stale reference would keep a block's buffer alive and force a copy.
    private var queue: [(Int, Work)?] = []
    private var queueHead = 0
    private var finished: [Int: Done] = [:]
    private var totalBlocks: Int?
    private var failure: (any Error)?

    /// Creates a coordinator allowing `tickets` blocks in flight.
    init(tickets: Int) {
        precondition(tickets > 0)
        self.tickets = tickets
    }

    /// The first error any stage reported, if one did.
    var firstFailure: (any Error)? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    /// Records the first failure and wakes every waiting thread so it can stop.
    func fail(_ error: any Error) {
        condition.lock()
        if failure == nil { failure = error }
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for a ticket. Returns false when the pipeline failed.
    func acquireTicket() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while tickets == 0 && failure == nil { condition.wait() }
        guard failure == nil else { return false }
        tickets -= 1
        return true
    }

    /// Returns a ticket once a block has fully left the pipeline.
    func releaseTicket() {
        condition.lock()
        tickets += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a block for the workers.
    func enqueue(_ sequence: Int, _ work: Work) {
        condition.lock()
        queue.append((sequence, work))
        condition.broadcast()
        condition.unlock()
    }

    /// Takes the oldest queued block; nil when input ended and the queue is drained, or on failure.
    func dequeue() -> (Int, Work)? {
        condition.lock()
        defer { condition.unlock() }
        while queueHead == queue.count && totalBlocks == nil && failure == nil { condition.wait() }
        guard failure == nil, queueHead < queue.count, let item = queue[queueHead] else { return nil }
        queue[queueHead] = nil
        queueHead += 1
        if queueHead > 64 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return item
    }

    /// Marks the end of input after `count` blocks.
    func endInput(blockCount count: Int) {
        condition.lock()
        totalBlocks = count
        condition.broadcast()
        condition.unlock()
    }

    /// Hands a finished block to the last stage.
    func deliver(_ sequence: Int, _ done: Done) {
        condition.lock()
        finished[sequence] = done
        condition.broadcast()
        condition.unlock()
    }

    /// The last stage's loop: takes the finished blocks in order until the last, hands each to `body`, then
    /// returns its ticket. Throws the first failure of any stage, or what `body` throws.
    func consumeInOrder(_ body: (Done) throws -> Void) throws {
        var sequence = 0
        while let done = try take(sequence) {
            try body(done)
            releaseTicket()
            sequence += 1
        }
    }

    /// Waits for block `sequence`. Returns nil after the last block, and throws the first failure.
    func take(_ sequence: Int) throws -> Done? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let failure { throw failure }
            if let done = finished.removeValue(forKey: sequence) { return done }
            if let totalBlocks, sequence >= totalBlocks { return nil }
            condition.wait()
        }
    }
}

/// Starts a thread running `body`; `group` is left when it returns.
func startThread(named name: String, group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
    group.enter()
    let thread = Thread {
        body()
        group.leave()
    }
    thread.name = name
    thread.stackSize = 1 << 20
    thread.start()
}
