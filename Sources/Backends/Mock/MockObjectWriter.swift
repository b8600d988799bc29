import ArchiverKit
import Glibc
import Synchronization

/// A mock's writer: counts, limits and hashes the bytes, and hands them to a file writer when the mock persists.
final class MockObjectWriter: ObjectWriter {
    /// The size limits a mock enforces, fixed when the writer opens.
    struct Limits: Sendable {
        var maxObjectSize: Int64?
        var sliceSize: Int?
        var maxSlices: Int?
        var allowsEmptyObjects: Bool

        init(_ configuration: MockBackend.Configuration) {
            maxObjectSize = configuration.maxObjectSize
            sliceSize = configuration.effectiveSliceSize
            maxSlices = configuration.maxSlices
            allowsEmptyObjects = configuration.allowsEmptyObjects
        }

        /// Refuses an object of `size` bytes.
        func check(size: Int64, name: ObjectName, spec: String) throws(ArchiverError) {
            if let maxObjectSize, size > maxObjectSize {
                throw ArchiverError(
                    .backend, "object \(name) is larger than \(spec) stores (max_object_size \(maxObjectSize) bytes)",
                    subject: name.value)
            }
            if let sliceSize, let maxSlices, size > Int64(sliceSize) * Int64(maxSlices) {
                throw ArchiverError(
                    .backend,
                    "object \(name) needs more than \(spec)'s \(maxSlices) slices of \(sliceSize) bytes",
                    subject: name.value)
            }
        }
    }

    private enum Phase {
        case writing
        case failed(ArchiverError)
        case finished
    }

    private struct State {
        var phase = Phase.writing
        var written: Int64 = 0
        /// Bytes counted against the mock's quota and not yet given back.
        var reserved: Int64 = 0
        var check: UploadDigestCheck?
    }

    private let backend: MockBackend
    private let name: ObjectName
    private let limits: Limits
    private let store: FileStore?
    private let file: FileObjectWriter?
    private let state: Mutex<State>

    /// Creates a writer; `MockBackend.openWriter` is the way in.
    init(
        backend: MockBackend, name: ObjectName, limits: Limits, digests: UploadDigests?, store: FileStore?,
        file: FileObjectWriter?
    ) {
        self.backend = backend
        self.name = name
        self.limits = limits
        self.store = store
        self.file = file
        let check = digests.map {
            UploadDigestCheck(expected: $0, sliceSize: limits.sliceSize ?? MockBackend.Configuration.defaultSliceSize)
        }
        self.state = Mutex(State(check: check))
    }

    deinit {
        abortNow()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try state.withLock { state throws(ArchiverError) in
            try requireWriting(state)
            do {
                try backend.enterBlocking(.write, subject: name.value)
                let total = state.written + Int64(bytes.count)
                try limits.check(size: total, name: name, spec: backend.spec)
                try backend.reserve(Int64(bytes.count), for: name)
                state.reserved += Int64(bytes.count)
                state.check?.update(bytes)
                try file?.write(bytes)
                state.written = total
            } catch {
                let failure = error as? ArchiverError
                    ?? ArchiverError(.backend, "cannot write object \(name): \(error)", subject: name.value)
                state.phase = .failed(failure)
                throw failure
            }
        }
    }

    func commit() async throws -> ObjectInfo {
        do {
            try await backend.enter(.commit, subject: name.value)
            return try await offload { try self.commitNow() }
        } catch {
            // A failed commit leaves no object, whether or not the caller aborts.
            abortNow()
            throw error
        }
    }

    func abort() async {
        await offload { self.abortNow() }
    }

    private func commitNow() throws -> ObjectInfo {
        try state.withLock { state throws(ArchiverError) in
            try requireWriting(state)
            if state.written == 0 && !limits.allowsEmptyObjects {
                throw ArchiverError(
                    .backend, "object \(name) is empty and \(backend.spec) stores no empty objects (no_empty)",
                    subject: name.value)
            }
            if var check = state.check {
                let mismatches = check.finish(size: state.written)
                if !mismatches.isEmpty {
                    throw ArchiverError(
                        .backend,
                        "object \(name) does not match the digests announced before its upload: "
                            + mismatches.joined(separator: "; "),
                        subject: name.value)
                }
            }
            var info = ObjectInfo(name: name, size: state.written)
            if let file {
                info = try wrapped { try file.commitNow() }
            }
            state.phase = .finished
            if backend.noteCommitted(), let store {
                try wrapped { try store.flipMiddleByte(of: name) }
            }
            return info
        }
    }

    /// `abort()` on the calling thread; gives the quota back. Does nothing after a commit.
    func abortNow() {
        state.withLock { state in
            if case .finished = state.phase { return }
            file?.abortNow()
            backend.release(state.reserved)
            state.reserved = 0
            state.phase = .finished
        }
    }

    private func requireWriting(_ state: State) throws(ArchiverError) {
        switch state.phase {
        case .writing:
            return
        case .failed(let error):
            throw error
        case .finished:
            throw ArchiverError(.internalError, "object \(name) was already committed or aborted", subject: name.value)
        }
    }

    private func wrapped<T>(_ body: () throws -> T) throws(ArchiverError) -> T {
        do {
            return try body()
        } catch let error as ArchiverError {
            throw error
        } catch {
            throw ArchiverError(.backend, "cannot store object \(name): \(error)", subject: name.value)
        }
    }
}

extension FileStore {
    /// Flips one byte in the middle of a stored object, as a tampering remote would.
    func flipMiddleByte(of name: ObjectName) throws {
        let (folders, file) = Self.split(name)
        guard let folder = try openFolder(folders, create: false, object: name) else { throw missingObjectError(name) }
        let fd = retryingInterrupts { openat(folder.fd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw failure(errno, "open object \(name) to corrupt it", object: name) }
        defer { close(fd) }
        guard case .success(let facts) = FileFacts.of(descriptor: fd), facts.size > 0 else { return }
        var byte: UInt8 = 0
        let offset = off_t(facts.size / 2)
        guard pread(fd, &byte, 1, offset) == 1 else { throw failure(errno, "read object \(name)", object: name) }
        byte ^= 0xFF
        guard pwrite(fd, &byte, 1, offset) == 1, fsync(fd) == 0 else {
            throw failure(errno, "corrupt object \(name)", object: name)
        }
    }
}
