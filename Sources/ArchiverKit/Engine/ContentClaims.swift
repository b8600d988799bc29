import Synchronization

/// The plaintext digests of files a run is storing and has not yet recorded: of two identical files in flight at
/// once, the second finds the first's claim and waits for its content instead of storing a second copy.
///
/// Claims are taken by the file tasks (after hashing, before storing) and by the engine (for a file stored without
/// hashing first); only the engine releases them, once the content is in the catalog or its file failed, so a
/// waiting duplicate is always either resolved or sent back to be stored.
final class ContentClaims: Sendable {
    private let held = Mutex<Set<[UInt8]>>([])

    /// Takes the claim on `digest`.
    /// - Returns: true when the caller now holds it (and stores the content); false when another file does.
    func claim(_ digest: [UInt8]) -> Bool { held.withLock { $0.insert(digest).inserted } }

    /// Whether a file holds the claim on `digest`.
    func isHeld(_ digest: [UInt8]) -> Bool { held.withLock { $0.contains(digest) } }

    /// Ends the claim on `digest`.
    func release(_ digest: [UInt8]) { _ = held.withLock { $0.remove(digest) } }
}
