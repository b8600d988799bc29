import ArchiverKit
import CShims
import Foundation
import Glibc
import Synchronization

/// Writes one object of a `FileStore`: into a temporary file in the object's folder, made visible under its name
/// by `commit()` only after the bytes are on disk, and never over an existing object.
final class FileObjectWriter: ObjectWriter {
    /// The largest object a writer accepts, and why, for the message.
    struct SizeLimit: Sendable {
        /// Bytes allowed.
        var bytes: Int64
        /// Why ("the file system of /mnt/usb (vfat) stores files up to 4 GiB").
        var reason: String
    }

    private enum Phase {
        case writing
        case failed(ArchiverError)
        case committed
        case aborted
    }

    private struct State {
        var phase = Phase.writing
        var written: Int64 = 0
        var descriptorOpen = true
    }

    /// The object being written.
    let name: ObjectName
    private let store: FileStore
    private let folder: OpenDirectory
    private let temporaryName: String
    private let fileName: String
    private let fd: Int32
    private let sink: FileDescriptorSink
    private let limit: SizeLimit?
    private let state = Mutex(State())

    /// Wraps an open temporary file; `FileStore.makeWriter` is the way in.
    init(
        store: FileStore, name: ObjectName, folder: OpenDirectory, temporaryName: String, fileName: String, fd: Int32,
        limit: SizeLimit?
    ) {
        self.store = store
        self.name = name
        self.folder = folder
        self.temporaryName = temporaryName
        self.fileName = fileName
        self.fd = fd
        self.sink = FileDescriptorSink(fd: fd, label: "\(store.root)/\(name)", closeWhenDone: false)
        self.limit = limit
    }

    deinit {
        // A writer dropped without commit or abort must not leave its temporary file behind.
        abortNow()
    }

    /// Bytes written so far.
    var bytesWritten: Int64 { state.withLock { $0.written } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try state.withLock { state throws(ArchiverError) in
            try Self.requireWriting(state, name)
            let total = state.written + Int64(bytes.count)
            if let limit, total > limit.bytes {
                let error = ArchiverError(
                    .backend, "object \(name) is larger than \(limit.bytes) bytes: \(limit.reason)",
                    subject: name.value)
                state.phase = .failed(error)
                throw error
            }
            do {
                try sink.write(bytes)
            } catch {
                let mapped = store.writeFailure(error, object: name)
                state.phase = .failed(mapped)
                throw mapped
            }
            state.written = total
        }
    }

    func commit() async throws -> ObjectInfo {
        try await offload { try self.commitNow() }
    }

    func abort() async {
        await offload { self.abortNow() }
    }

    /// `commit()` on the calling thread.
    func commitNow() throws -> ObjectInfo {
        try state.withLock { state throws(ArchiverError) in
            try Self.requireWriting(state, name)
            do throws(ArchiverError) {
                let info = try publish(&state)
                state.phase = .committed
                return info
            } catch {
                discard(&state)
                state.phase = .failed(error)
                throw error
            }
        }
    }

    /// `abort()` on the calling thread. After a commit it does nothing: the object stays.
    func abortNow() {
        state.withLock { state in
            switch state.phase {
            case .writing, .failed:
                discard(&state)
                state.phase = .aborted
            case .committed, .aborted:
                break
            }
        }
    }

    private static func requireWriting(_ state: State, _ name: ObjectName) throws(ArchiverError) {
        switch state.phase {
        case .writing:
            return
        case .failed(let error):
            throw error
        case .committed, .aborted:
            throw ArchiverError(.internalError, "object \(name) was already committed or aborted", subject: name.value)
        }
    }

    private func closeDescriptor(_ state: inout State) {
        if state.descriptorOpen {
            close(fd)
            state.descriptorOpen = false
        }
    }

    private func discard(_ state: inout State) {
        closeDescriptor(&state)
        // Safe only while the object is unpublished: afterwards the temporary name no longer exists.
        _ = unlinkat(folder.fd, temporaryName, 0)
    }

    /// Flushes the file, gives it its name without replacing anything, and flushes the folder.
    private func publish(_ state: inout State) throws(ArchiverError) -> ObjectInfo {
        do {
            try sink.sync()
        } catch {
            throw store.writeFailure(error, object: name)
        }
        let facts: FileFacts
        switch FileFacts.of(descriptor: fd) {
        case .success(let found): facts = found
        case .failure(let error): throw store.failure(error.code.rawValue, "store object \(name)", object: name)
        }
        closeDescriptor(&state)
        try store.publish(temporaryName, as: fileName, in: folder, object: name)
        // Without this the new name may vanish in a power cut even though the bytes are on disk.
        let code = folder.sync()
        if code != 0 {
            // The object is visible but perhaps not durable; removing it keeps the promise that a failed commit
            // leaves no object.
            _ = unlinkat(folder.fd, fileName, 0)
            throw store.failure(code, "flush the folder of object \(name) to disk", object: name)
        }
        return ObjectInfo(name: name, size: state.written, modified: facts.modified)
    }
}

extension FileStore {
    /// Renames `temporary` to `fileName` inside `folder`, refusing to replace an existing file.
    ///
    /// `renameat2(RENAME_NOREPLACE)` does it atomically. File systems without the flag (vfat and exfat on older
    /// kernels, some FUSE file systems) answer EINVAL or ENOSYS; then `link` + `unlink` is just as safe, because
    /// `link` never replaces either. Where hard links are unsupported too (vfat, exfat), the last resort checks
    /// that the name is free and renames: between the check and the rename, another process could create the
    /// same name and would lose it. The core never writes one name twice at once, so only a foreign program
    /// writing into the repository could hit that window, and it is microseconds wide.
    /// - Throws: `.backend` when the name exists; `.io` for other failures. The temporary file stays; the caller
    ///   removes it.
    func publish(_ temporary: String, as fileName: String, in folder: OpenDirectory, object: ObjectName)
        throws(ArchiverError)
    {
        var step = publishing
        if step == .automatic {
            if archiver_rename_noreplace(folder.fd, temporary, folder.fd, fileName) == 0 { return }
            let code = errno
            switch code {
            case EEXIST: throw existingObjectError(object)
            case EINVAL, ENOSYS, EOPNOTSUPP: step = .linkFallback
            default: throw failure(code, "give object \(object) its name", object: object)
            }
        }
        if step == .linkFallback {
            if linkat(folder.fd, temporary, folder.fd, fileName, 0) == 0 {
                // The object is in place; a leftover temporary name is skipped by listings, so this may fail.
                _ = unlinkat(folder.fd, temporary, 0)
                return
            }
            let code = errno
            switch code {
            case EEXIST: throw existingObjectError(object)
            case EPERM, EOPNOTSUPP, ENOSYS, EMLINK: step = .checkedRename
            default: throw failure(code, "give object \(object) its name", object: object)
            }
        }
        switch FileFacts.of(fileName, in: folder) {
        case .success:
            throw existingObjectError(object)
        case .failure(let error) where error.code == .ENOENT:
            break
        case .failure(let error):
            throw failure(error.code.rawValue, "check whether object \(object) exists", object: object)
        }
        guard renameat(folder.fd, temporary, folder.fd, fileName) == 0 else {
            throw failure(errno, "give object \(object) its name", object: object)
        }
    }
}
