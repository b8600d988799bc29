import ArchiverKit
import Foundation
import Glibc

/// Objects kept as files under a root folder: the storage behind `local:` and `mock:DIR`.
///
/// An object named `a/b/c` lives at `<root>/a/b/c`; the repository marker sits at the root. Every operation walks
/// from the root through directory descriptors without following symbolic links, so a link planted in the tree
/// never leads the store outside it. Methods block; the backends call them through `offload`.
struct FileStore: Sendable {
    /// How a finished temporary file takes its final name without replacing an object already there.
    enum Publishing: Sendable, Equatable {
        /// `renameat2(RENAME_NOREPLACE)`, falling back as the file system requires.
        case automatic
        /// Start at the `link` + `unlink` fallback (tests; file systems known to lack `RENAME_NOREPLACE`).
        case linkFallback
        /// Start at the last fallback: check, then rename (tests; file systems without hard links).
        case checkedRename
    }

    /// Temporary files are `.tmp-<random>.partial` in the object's folder; listings skip them.
    static let temporaryPrefix = ".tmp-"
    /// See `temporaryPrefix`.
    static let temporarySuffix = ".partial"

    /// The root folder, absolute.
    let root: String
    /// How objects are published; `.automatic` except in tests.
    let publishing: Publishing

    /// Creates a store over a folder; nothing is touched until an operation runs.
    /// - Parameters:
    ///   - root: an absolute path.
    ///   - publishing: how objects take their final names.
    init(root: String, publishing: Publishing = .automatic) {
        self.root = root
        self.publishing = publishing
    }

    /// Whether a file name is one of the store's temporary files.
    static func isTemporary(_ fileName: some StringProtocol) -> Bool {
        fileName.hasPrefix(temporaryPrefix) && fileName.hasSuffix(temporarySuffix)
    }

    /// A fresh temporary file name.
    static func temporaryName() -> String {
        let random = UInt64.random(in: .min ... .max)
        let hex = String(random, radix: 16)
        return temporaryPrefix + String(repeating: "0", count: 16 - hex.count) + hex + temporarySuffix
    }

    // MARK: - Errors

    /// The message for a root folder that does not exist.
    func missingRootError(cause: (any Error & Sendable)? = nil) -> ArchiverError {
        ArchiverError(
            .targetUnavailable,
            "\(root) does not exist. If it is an external disk, plug it in and mount it.",
            subject: root, cause: cause)
    }

    /// The message for a root folder without a marker: never taken for an empty repository, because an empty
    /// mount point looks exactly like one.
    func notRepositoryError() -> ArchiverError {
        ArchiverError(
            .targetUnavailable,
            "\(root) is not an archiver repository (no \(RepositoryMarker.fileName)). If this is the mount point of "
                + "an external disk, the disk is probably not mounted; otherwise run `archiver init`.",
            subject: root, cause: posixCause(ENOENT))
    }

    /// The error for an object that is not there.
    func missingObjectError(_ name: ObjectName) -> ArchiverError {
        ArchiverError(
            .backend, "object \(name) is missing from \(root)", subject: name.value, cause: posixCause(ENOENT))
    }

    /// The error for a name that is taken.
    func existingObjectError(_ name: ObjectName) -> ArchiverError {
        ArchiverError(
            .nameTaken, "object \(name) already exists in \(root); objects are never overwritten",
            subject: name.value, cause: posixCause(EEXIST))
    }

    /// Describes a failed system call in terms of the target and the object.
    /// - Parameters:
    ///   - code: the `errno`.
    ///   - action: what failed, for "cannot …" ("create a temporary file in a/b").
    ///   - object: the object concerned; the subject is the root when nil.
    func failure(_ code: Int32, _ action: String, object: ObjectName?) -> ArchiverError {
        let subject = object?.value ?? root
        let cause = posixCause(code)
        switch code {
        case ENOSPC, EDQUOT:
            return ArchiverError(
                .quota, "\(root) is full: cannot \(action). Free some space on the target or use another one.",
                subject: subject, cause: cause)
        case EROFS:
            return ArchiverError(
                .io, "cannot \(action): \(root) is mounted read-only", subject: subject, cause: cause)
        case EACCES, EPERM:
            return ArchiverError(
                .io, "cannot \(action) in \(root): permission denied. Check the owner and permissions of the folder.",
                subject: subject, cause: cause)
        case EIO:
            return ArchiverError(
                .io, "cannot \(action) in \(root): input/output error. The disk may be failing or was unplugged.",
                subject: subject, cause: cause)
        default:
            return ArchiverError(
                .io, "cannot \(action) in \(root): \(posixReason(code))", subject: subject, cause: cause)
        }
    }

    /// Restates an error from `FileDescriptorSink` (which knows only the path) in terms of the target.
    func writeFailure(_ error: any Error, object: ObjectName) -> ArchiverError {
        guard let error = error as? ArchiverError else {
            return ArchiverError(.io, "cannot write object \(object) to \(root): \(error)", subject: object.value)
        }
        if error.code == .quota {
            return ArchiverError(
                .quota,
                "\(root) is full: cannot store object \(object). Free some space on the target or use another one.",
                subject: object.value, cause: error)
        }
        return ArchiverError(
            error.code, "cannot write object \(object) to \(root): \(error.message)", subject: object.value,
            cause: error)
    }

    // MARK: - Folders

    /// Opens the root folder.
    /// - Throws: `.targetUnavailable` when it is missing or not a folder.
    func openRoot() throws -> OpenDirectory {
        let fd = retryingInterrupts { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT:
                throw missingRootError(cause: posixCause(code))
            case ENOTDIR:
                throw ArchiverError(
                    .targetUnavailable, "\(root) is not a folder", subject: root, cause: posixCause(code))
            default:
                throw failure(code, "open the folder", object: nil)
            }
        }
        return OpenDirectory(fd: fd)
    }

    /// Opens the root, creating it when its parent exists (for `init`).
    func openOrCreateRoot() throws -> OpenDirectory {
        if mkdir(root, 0o700) == 0 {
            // The new folder must survive a power cut like the marker in it.
            let parent = (root as NSString).deletingLastPathComponent
            let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd >= 0 {
                _ = OpenDirectory(fd: fd).sync()
            }
        } else if errno == ENOENT {
            let parent = (root as NSString).deletingLastPathComponent
            throw ArchiverError(
                .targetUnavailable,
                "\(root) does not exist, nor does the folder \(parent) it would be created in. If it is on an "
                    + "external disk, plug it in and mount it.",
                subject: root, cause: posixCause(ENOENT))
        }
        return try openRoot()
    }

    /// Opens the folder holding an object.
    /// - Parameters:
    ///   - components: the folder's path components below the root.
    ///   - create: create missing folders (for writing).
    ///   - object: the object concerned, for messages.
    /// - Returns: the folder, or nil when it does not exist (or is a file or a link) and `create` is false.
    func openFolder(_ components: some Collection<Substring>, create: Bool, object: ObjectName?) throws
        -> OpenDirectory?
    {
        var current = try openRoot()
        var walked = ""
        for component in components {
            let name = String(component)
            walked = walked.isEmpty ? name : walked + "/" + name
            let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            var fd = retryingInterrupts { openat(current.fd, name, flags) }
            if fd < 0 && errno == ENOENT && create {
                if mkdirat(current.fd, name, 0o700) == 0 {
                    // A new folder is only durable once its parent's entry is.
                    let code = current.sync()
                    if code != 0 { throw failure(code, "create the folder \(walked)", object: object) }
                } else if errno != EEXIST {  // EEXIST: a concurrent writer made it first
                    throw failure(errno, "create the folder \(walked)", object: object)
                }
                fd = retryingInterrupts { openat(current.fd, name, flags) }
            }
            guard fd >= 0 else {
                let code = errno
                let notFolder = code == ENOTDIR || code == ELOOP
                if !create && (code == ENOENT || notFolder) { return nil }
                if notFolder {
                    throw ArchiverError(
                        .backend, "cannot store object \(object.map(\.value) ?? walked): \(root)/\(walked) is a file "
                            + "or a symbolic link, not a folder",
                        subject: object?.value ?? root, cause: posixCause(code))
                }
                throw failure(code, "open the folder \(walked)", object: object)
            }
            current = OpenDirectory(fd: fd)
        }
        return current
    }

    /// Splits a name into its folder components and its file name.
    static func split(_ name: ObjectName) -> (folders: ArraySlice<Substring>, file: String) {
        let parts = name.components
        return (parts.dropLast(), String(parts[parts.count - 1]))
    }

    /// Whether the store keeps its own files under this name (the marker, temporary files).
    static func isReserved(_ name: ObjectName) -> Bool {
        name.value == RepositoryMarker.fileName || isTemporary(split(name).file)
    }

    /// After something was not found, tells a vanished target (an unplugged disk, an unmounted one whose mount
    /// point is now empty) from a missing object, so the caller never concludes an object is gone when the whole
    /// target is.
    /// - Throws: `.targetUnavailable` when the root or its marker is gone.
    func checkTargetPresent() throws {
        let rootFolder = try openRoot()
        if case .failure(let error) = FileFacts.of(RepositoryMarker.fileName, in: rootFolder), error.code == .ENOENT {
            throw notRepositoryError()
        }
    }

    // MARK: - Objects

    /// Starts a new object.
    /// - Parameters:
    ///   - name: the object's name.
    ///   - limit: the largest size allowed, and why, for the message.
    ///   - allowReserved: let the store write its own files (the marker).
    /// - Throws: `.backend` when the name exists or is reserved; `.io` or `.quota` when the disk refuses.
    func makeWriter(for name: ObjectName, limit: FileObjectWriter.SizeLimit?, allowReserved: Bool = false) throws
        -> FileObjectWriter
    {
        if !allowReserved && Self.isReserved(name) {
            throw ArchiverError(
                .backend, "cannot store object \(name): the name is reserved for the store's own files",
                subject: name.value)
        }
        let (folders, file) = Self.split(name)
        guard let folder = try openFolder(folders, create: true, object: name) else {
            throw ArchiverError(.internalError, "folder for \(name) missing after creation", subject: name.value)
        }
        switch FileFacts.of(file, in: folder) {
        case .success:
            throw existingObjectError(name)
        case .failure(let error) where error.code == .ENOENT:
            break
        case .failure(let error):
            throw failure(error.code.rawValue, "check whether object \(name) exists", object: name)
        }
        // Files are private: with `encryption: off` they hold the user's data in the clear.
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        for _ in 0..<8 {
            let temporary = Self.temporaryName()
            let fd = retryingInterrupts { openat(folder.fd, temporary, flags, 0o600) }
            if fd >= 0 {
                return FileObjectWriter(
                    store: self, name: name, folder: folder, temporaryName: temporary, fileName: file, fd: fd,
                    limit: limit)
            }
            if errno != EEXIST {
                throw failure(errno, "create a temporary file for object \(name)", object: name)
            }
        }
        throw ArchiverError(.io, "cannot create a temporary file for object \(name) in \(root)", subject: name.value)
    }

    /// Opens an object for reading.
    /// - Parameters:
    ///   - name: the object.
    ///   - range: the bytes wanted, or nil for all of them.
    /// - Throws: `.backend` when it is missing, not a regular file, or shorter than `range`.
    func openReader(for name: ObjectName, range: Range<Int64>?) throws -> FileObjectReader {
        let (folders, file) = Self.split(name)
        guard let folder = try openFolder(folders, create: false, object: name) else {
            try checkTargetPresent()
            throw missingObjectError(name)
        }
        let fd = retryingInterrupts { openat(folder.fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT:
                try checkTargetPresent()
                throw missingObjectError(name)
            case ELOOP:
                throw ArchiverError(
                    .backend, "object \(name) in \(root) is a symbolic link; refusing to follow it",
                    subject: name.value, cause: posixCause(code))
            default:
                throw failure(code, "open object \(name) for reading", object: name)
            }
        }
        let reader = FileObjectReader(fd: fd, label: "\(root)/\(name)")
        let facts: FileFacts
        switch FileFacts.of(descriptor: fd) {
        case .success(let found): facts = found
        case .failure(let error): throw failure(error.code.rawValue, "read object \(name)", object: name)
        }
        guard facts.isRegularFile else {
            throw ArchiverError(.backend, "object \(name) in \(root) is not a regular file", subject: name.value)
        }
        if let range {
            guard range.lowerBound >= 0, range.upperBound <= facts.size else {
                throw ArchiverError(
                    .backend,
                    "cannot read bytes \(range.lowerBound)..<\(range.upperBound) of object \(name): it has "
                        + "\(facts.size) bytes",
                    subject: name.value)
            }
            try reader.limit(to: range, object: name, store: self)
        }
        return reader
    }

    /// Describes an object.
    /// - Returns: its description, or nil when no regular file has the name.
    func stat(_ name: ObjectName) throws -> ObjectInfo? {
        guard !Self.isReserved(name) else { return nil }
        let (folders, file) = Self.split(name)
        guard let folder = try openFolder(folders, create: false, object: name) else {
            try checkTargetPresent()
            return nil
        }
        switch FileFacts.of(file, in: folder) {
        case .success(let facts):
            return facts.isRegularFile ? ObjectInfo(name: name, size: facts.size, modified: facts.modified) : nil
        case .failure(let error) where error.code == .ENOENT || error.code == .ENOTDIR:
            try checkTargetPresent()
            return nil
        case .failure(let error):
            throw failure(error.code.rawValue, "look up object \(name)", object: name)
        }
    }

    /// Deletes an object; a missing one is not an error.
    ///
    /// Emptied folders stay: removing them would race with a writer that has just opened one to store an object.
    /// The deletion is not flushed to disk; after a power cut an object may come back, which is harmless.
    /// - Returns: the size of the deleted file, when there was one.
    @discardableResult
    func delete(_ name: ObjectName) throws -> Int64? {
        if Self.isReserved(name) {
            throw ArchiverError(
                .backend, "cannot delete \(name): the name is reserved for the store's own files", subject: name.value)
        }
        let (folders, file) = Self.split(name)
        guard let folder = try openFolder(folders, create: false, object: name) else {
            try checkTargetPresent()
            return nil
        }
        var size: Int64?
        if case .success(let facts) = FileFacts.of(file, in: folder) {
            if facts.isDirectory {
                throw ArchiverError(
                    .backend, "cannot delete object \(name): \(root)/\(name) is a folder", subject: name.value,
                    cause: posixCause(EISDIR))
            }
            size = facts.size
        }
        guard unlinkat(folder.fd, file, 0) == 0 else {
            let code = errno
            if code == ENOENT {
                try checkTargetPresent()
                return nil
            }
            throw failure(code, "delete object \(name)", object: name)
        }
        return size
    }

    // MARK: - Marker

    /// Reads the repository marker.
    /// - Throws: `.targetUnavailable` when the root or the marker is missing; `.backend` when it is malformed.
    func readMarker() throws -> RepositoryMarker {
        let rootFolder = try openRoot()
        let fd = retryingInterrupts {
            openat(rootFolder.fd, RepositoryMarker.fileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else {
            if errno == ENOENT { throw notRepositoryError() }
            throw failure(errno, "read \(RepositoryMarker.fileName)", object: nil)
        }
        let source = FileDescriptorSource(fd: fd, label: "\(root)/\(RepositoryMarker.fileName)", closeWhenDone: true)
        // A marker is a few hundred bytes; a large file there is not one, and is not read whole.
        let cap = 64 * 1024
        var bytes = [UInt8](repeating: 0, count: cap + 1)
        let count = try bytes.withUnsafeMutableBytes { try source.readFull(into: $0) }
        let path = "\(root)/\(RepositoryMarker.fileName)"
        guard count <= cap else {
            throw ArchiverError(
                .backend, "\(path) is not a repository marker (larger than \(cap) bytes)", subject: root)
        }
        do {
            return try JSONDecoder().decode(RepositoryMarker.self, from: Data(bytes[0..<count]))
        } catch {
            throw ArchiverError(
                .backend,
                "\(path) is damaged and cannot be read as a repository marker (\(error)). Restore it from a copy "
                    + "of this repository; do not re-initialise a target that holds backups.",
                subject: root, cause: MarkerDecodingFailure(description: "\(error)"))
        }
    }

    /// Prepares the target for `init`: creates the root when its parent exists, refuses a root that holds a
    /// marker, probes the file system when asked, and writes the marker.
    /// - Returns: the marker written, with the probe's findings.
    func initialize(_ marker: RepositoryMarker, probing: Bool) throws -> RepositoryMarker {
        let folder = try openOrCreateRoot()
        if try hasMarker() { throw alreadyRepositoryError() }
        var marker = marker
        if probing { marker.probe = try TargetProber(store: self).probe(folder) }
        try writeMarker(marker)
        return marker
    }

    /// Writes the marker durably; never replaces one.
    /// - Throws: `.backend` when a marker exists; `.io`, `.quota` when the disk refuses.
    func writeMarker(_ marker: RepositoryMarker) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var bytes = [UInt8](try encoder.encode(marker))
        bytes.append(0x0A)
        let name = try ObjectName(RepositoryMarker.fileName)
        let writer: FileObjectWriter
        do {
            writer = try makeWriter(for: name, limit: nil, allowReserved: true)
        } catch let error as ArchiverError where (error.cause as? POSIXError)?.code == .EEXIST {
            throw alreadyRepositoryError()
        }
        do {
            try bytes.withUnsafeBytes { try writer.write($0) }
            _ = try writer.commitNow()
        } catch let error as ArchiverError where (error.cause as? POSIXError)?.code == .EEXIST {
            throw alreadyRepositoryError()
        } catch {
            writer.abortNow()
            throw error
        }
    }

    /// The refusal to initialise a target twice, naming the repository found.
    func alreadyRepositoryError() -> ArchiverError {
        let id: String
        do {
            id = try readMarker().id
        } catch {
            id = "unreadable marker"
        }
        return ArchiverError(
            .backend, "\(root) is already an archiver repository (id \(id))", subject: root, cause: posixCause(EEXIST))
    }

    /// Whether the root holds a marker file, readable or not.
    func hasMarker() throws -> Bool {
        let rootFolder = try openRoot()
        switch FileFacts.of(RepositoryMarker.fileName, in: rootFolder) {
        case .success: return true
        case .failure(let error) where error.code == .ENOENT: return false
        case .failure(let error): throw failure(error.code.rawValue, "look for the marker", object: nil)
        }
    }
}

/// Why a marker could not be decoded, kept as a `Sendable` cause (`DecodingError` holds non-`Sendable` values).
struct MarkerDecodingFailure: Error, Sendable, CustomStringConvertible {
    /// The decoder's explanation.
    let description: String
}
