import Dispatch
import Synchronization

/// The result of async work, awaited from a blocking pipeline thread (never from the concurrency pool).
final class BlockingResult<Value: Sendable>: Sendable {
    private let slot = Mutex<Result<Value, any Error>?>(nil)
    private let ready = DispatchSemaphore(value: 0)
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts `work` in a task.
    init(_ work: @escaping @Sendable () async throws -> Value) {
        let handle = Task { [self] in
            let result: Result<Value, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            slot.withLock { $0 = result }
            ready.signal()
        }
        task.withLock { $0 = handle }
    }

    /// Blocks until the work is done.
    func wait() throws -> Value {
        ready.wait()
        ready.signal()  // a later `wait` returns at once
        return try slot.withLock { $0! }.get()
    }

    /// Cancels the work and waits for it to stop.
    func cancel() async {
        let handle = task.withLock { $0 }
        handle?.cancel()
        await handle?.value
    }
}
