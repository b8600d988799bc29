public import ArchiverKit
import Foundation
import Glibc
import Synchronization

/// A backend for tests and dry runs, with injectable faults (`mock:`, `mock:DIR`, `mock:DIR?fail=put:3`).
///
/// `mock:` keeps nothing (`persists` is false): writers count and hash bytes, then drop them. `mock:DIR` stores
/// objects as files in DIR with the same code as `local:`. Either way the mock counts calls and bytes, and can
/// fail chosen calls, add latency, corrupt an object, enforce a quota and behave like Baidu (digests first,
/// slices, no empty objects). The configuration can change while the backend is in use.
public final class MockBackend: RemoteBackend {
    /// The spec scheme, `mock`.
    public static let scheme = "mock"
    /// The repository id of a `mock:` target no marker was written to.
    public static let dryRunRepositoryID = "00000000-0000-4000-8000-000000000000"

    public let spec: String
    /// Where objects are stored; nil for `mock:`, which keeps nothing.
    public let directory: String?

    let store: FileStore?

    private struct State {
        var configuration: Configuration
        var calls: [Operation: Int] = [:]
        var bytesWritten: Int64 = 0
        var storedBytes: Int64 = 0
        var objectsCommitted = 0
        /// The marker of `mock:`, set by `initialize(marker:)` in this process.
        var marker: RepositoryMarker?
    }

    private let state: Mutex<State>

    /// Creates a mock.
    /// - Parameters:
    ///   - directory: an absolute folder to store objects in, or nil to keep nothing.
    ///   - configuration: what to simulate.
    ///   - spec: the spec it came from, for messages.
    public init(directory: String? = nil, configuration: Configuration = Configuration(), spec: String? = nil) {
        self.directory = directory
        self.store = directory.map { FileStore(root: $0) }
        self.state = Mutex(State(configuration: configuration))
        if let spec {
            self.spec = spec
        } else {
            let query = configuration.query
            self.spec = "\(Self.scheme):\(directory ?? "")\(query.isEmpty ? "" : "?" + query)"
        }
    }

    /// Creates a mock from the argument of a `mock:` spec: `[DIR][?OPTIONS]`.
    /// - Parameters:
    ///   - argument: an optional folder (relative ones are resolved against `context.baseDirectory`), then an
    ///     optional query string of options (see `Configuration`). The first `?` starts the options, so the
    ///     folder's path cannot contain one.
    ///   - context: the registry's context.
    /// - Throws: `ArchiverError(.usage)` for a malformed option.
    public convenience init(argument: String, context: BackendRegistry.Context) throws {
        var path = Substring(argument)
        var configuration = Configuration()
        if let question = argument.firstIndex(of: "?") {
            path = argument[..<question]
            configuration = try Configuration(query: String(argument[argument.index(after: question)...]))
        }
        let trimmed = path.trimmingCharacters(in: .whitespaces)
        self.init(
            directory: trimmed.isEmpty ? nil : resolvePath(trimmed, against: context.baseDirectory),
            configuration: configuration, spec: "\(Self.scheme):\(argument)")
    }

    // MARK: - Configuration and counters

    /// What the mock simulates; changes apply to the next operation.
    public var configuration: Configuration {
        get { state.withLock { $0.configuration } }
        set { state.withLock { $0.configuration = newValue } }
    }

    /// How many times `operation` was called (including calls that failed).
    public func calls(_ operation: Operation) -> Int {
        state.withLock { $0.calls[operation, default: 0] }
    }

    /// Bytes writers accepted, whether or not their objects were committed.
    public var bytesWritten: Int64 { state.withLock { $0.bytesWritten } }

    /// Bytes counted against the quota: committed objects (less deleted ones) and writes in flight.
    public var storedBytes: Int64 { state.withLock { $0.storedBytes } }

    /// Objects committed.
    public var objectsCommitted: Int { state.withLock { $0.objectsCommitted } }

    /// Sets every counter back to zero; the quota then counts from zero as well.
    public func resetCounters() {
        state.withLock { state in
            state.calls = [:]
            state.bytesWritten = 0
            state.storedBytes = 0
            state.objectsCommitted = 0
        }
    }

    // MARK: - RemoteBackend

    public var persists: Bool { store != nil }

    public var capabilities: BackendCapabilities {
        let configuration = self.configuration
        var capabilities = BackendCapabilities()
        capabilities.maxObjectSize = configuration.maxObjectSize
        capabilities.sliceSize = configuration.effectiveSliceSize
        capabilities.maxSlices = configuration.maxSlices
        capabilities.needsDigestsBeforeUpload = configuration.digestsFirst
        capabilities.allowsEmptyObjects = configuration.allowsEmptyObjects
        return capabilities
    }

    public func open() async throws -> RepositoryMarker {
        try await enter(.open, subject: spec)
        if let store {
            return try await offload { try store.readMarker() }
        }
        return state.withLock { $0.marker }
            ?? RepositoryMarker(id: Self.dryRunRepositoryID, created: "1970-01-01T00:00:00Z")
    }

    /// With a folder, as `local:` (without probing: the mock's limits come from its configuration). Without one,
    /// keeps the marker in memory for `open()`, refusing a second one.
    public func initialize(marker: RepositoryMarker) async throws {
        try await enter(.initialize, subject: spec)
        if let store {
            _ = try await offload { try store.initialize(marker, probing: false) }
            return
        }
        try state.withLock { state in
            if let existing = state.marker {
                throw ArchiverError(.backend, "\(spec) is already an archiver repository (id \(existing.id))")
            }
            state.marker = marker
        }
    }

    public func openWriter(for name: ObjectName, size: Int64?, digests: UploadDigests?) async throws
        -> any ObjectWriter
    {
        try await enter(.put, subject: name.value)
        let configuration = self.configuration
        if configuration.digestsFirst && digests == nil {
            throw ArchiverError(
                .backend, "\(spec) needs the digests of object \(name) before its upload (digests_first)",
                subject: name.value)
        }
        if let digests, let size, size != digests.size {
            throw ArchiverError(
                .backend, "object \(name): size \(size) disagrees with the digests' size \(digests.size)",
                subject: name.value)
        }
        let limits = MockObjectWriter.Limits(configuration)
        if let size { try limits.check(size: size, name: name, spec: spec) }
        var file: FileObjectWriter?
        if let store {
            file = try await offload { try store.makeWriter(for: name, limit: nil) }
        }
        return MockObjectWriter(
            backend: self, name: name, limits: limits, digests: digests, store: store, file: file)
    }

    public func openReader(for name: ObjectName, range: Range<Int64>?) async throws -> any ObjectReader {
        try await enter(.get, subject: name.value)
        guard let store else {
            throw ArchiverError(
                .backend, "object \(name) not found: \(spec) keeps nothing (a dry run)", subject: name.value,
                cause: posixCause(ENOENT))
        }
        return try await offload { try store.openReader(for: name, range: range) }
    }

    public func stat(_ name: ObjectName) async throws -> ObjectInfo? {
        try await enter(.stat, subject: name.value)
        guard let store else { return nil }
        return try await offload { try store.stat(name) }
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await enter(.list, subject: prefix)
        guard let store else { return ListPage(objects: [], nextCursor: nil) }
        return try await offload { try store.list(prefix: prefix, cursor: cursor, limit: limit) }
    }

    public func delete(_ name: ObjectName) async throws {
        try await enter(.delete, subject: name.value)
        guard let store else { return }
        if let size = try await offload({ try store.delete(name) }) {
            state.withLock { $0.storedBytes = max(0, $0.storedBytes - size) }
        }
    }

    // MARK: - Simulation

    /// Counts a call, waits the configured latency and throws the fault due, if any.
    func enter(_ operation: Operation, subject: String?) async throws {
        let (latency, fault) = count(operation, subject: subject)
        if latency > .zero { try await Task.sleep(for: latency) }
        if let fault { throw fault }
    }

    /// `enter` for the writer's `write`, which runs on a pipeline thread and may block.
    func enterBlocking(_ operation: Operation, subject: String?) throws {
        let (latency, fault) = count(operation, subject: subject)
        if latency > .zero {
            let (seconds, attoseconds) = latency.components
            usleep(UInt32(clamping: seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        }
        if let fault { throw fault }
    }

    private func count(_ operation: Operation, subject: String?) -> (Duration, ArchiverError?) {
        state.withLock { state in
            state.calls[operation, default: 0] += 1
            let call = state.calls[operation, default: 0]
            let fault = state.configuration.faults.first { $0.fails(operation, call: call) }
            return (
                state.configuration.latency,
                fault.map {
                    ArchiverError(
                        .backend, "injected fault: \(operation) call \(call) fails (fail=\($0))", subject: subject,
                        cause: InjectedFault(operation: operation, call: call))
                }
            )
        }
    }

    /// Counts `count` more bytes against the quota, or refuses them.
    func reserve(_ count: Int64, for name: ObjectName) throws(ArchiverError) {
        try state.withLock { state throws(ArchiverError) in
            if let quota = state.configuration.quota, state.storedBytes + count > quota {
                throw ArchiverError(
                    .quota,
                    "\(spec) is full: object \(name) needs \(count) more bytes, \(state.storedBytes) of the quota of "
                        + "\(quota) bytes are used",
                    subject: name.value)
            }
            state.storedBytes += count
            state.bytesWritten += count
        }
    }

    /// Gives back bytes of an object that was not committed.
    func release(_ count: Int64) {
        state.withLock { $0.storedBytes = max(0, $0.storedBytes - count) }
    }

    /// Records a committed object.
    /// - Returns: whether this object is the one to corrupt.
    func noteCommitted() -> Bool {
        state.withLock { state in
            state.objectsCommitted += 1
            return state.configuration.corruptObject == state.objectsCommitted
        }
    }

    /// The cause of an injected fault.
    public struct InjectedFault: Error, Sendable, Equatable {
        /// The operation that failed.
        public var operation: Operation
        /// Which call of it.
        public var call: Int
    }
}
