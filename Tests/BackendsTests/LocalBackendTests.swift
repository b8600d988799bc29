import ArchiverKit
@testable import Backends
import Foundation
import Glibc
import Testing

/// What only the local directory backend does: probing, publishing fallbacks, the file system's refusals.
@Suite("Local backend")
struct LocalBackendTests {
    private static func marker(_ id: String = "repo-id", probe: TargetProbe? = nil) -> RepositoryMarker {
        RepositoryMarker(id: id, created: "2025-01-01T00:00:00Z", probe: probe)
    }

    /// Writes a marker by hand, as an earlier `init` on another file system would have.
    private static func writeMarker(_ marker: RepositoryMarker, to root: String) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let data = try JSONEncoder().encode(marker)
        try data.write(to: URL(fileURLWithPath: root + "/" + RepositoryMarker.fileName))
    }

    @Test("init probes the file system and records it in the marker")
    func probe() async throws {
        let scratch = try Scratch(onDisk: ())
        defer { scratch.remove() }
        let root = scratch.path + "/repo"
        let backend = LocalBackend(root: root)
        try await backend.initialize(marker: Self.marker())
        let marker = try await backend.open()
        let probe = try #require(marker.probe)
        #expect(probe.caseSensitive)
        #expect(probe.maxNameLength == 255)
        #expect(probe.maxFileSize == nil)
        #expect(probe.fileSystem != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == [RepositoryMarker.fileName])
        let capabilities = backend.capabilities
        #expect(capabilities.caseSensitive)
        #expect(capabilities.maxNameLength == 255)
        #expect(capabilities.maxObjectSize == nil)
        #expect(capabilities.allowsEmptyObjects)
        #expect(capabilities.supportsRangeReads)
        // A fresh backend over the same folder reads the probe from the marker.
        #expect(LocalBackend(root: root).capabilities == capabilities)
    }

    @Test("the probe's maximum file size is enforced")
    func maxFileSizeEnforced() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let root = scratch.path + "/usb"
        let probe = TargetProbe(caseSensitive: false, maxNameLength: 255, maxFileSize: 1000, fileSystem: "vfat")
        try Self.writeMarker(Self.marker(probe: probe), to: root)
        let backend = LocalBackend(root: root)
        _ = try await backend.open()
        let capabilities = backend.capabilities
        #expect(capabilities.maxObjectSize == 1000)
        #expect(!capabilities.caseSensitive)
        #expect(capabilities.forbiddenCharacters.contains(":"))
        #expect(!capabilities.allowsEdgeDotsAndSpaces)

        try await put(backend, ObjectName("r/fits"), PatternSource.bytes(seed: 1, count: 1000))
        let name = try ObjectName("r/too-big")
        // Size unknown in advance: refused by the write that crosses the limit.
        let writer = try await backend.openWriter(for: name, size: nil, digests: nil)
        let bytes = PatternSource.bytes(seed: 1, count: 1001)
        try bytes.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<1000])) }
        let error = #expect(throws: ArchiverError.self) {
            try bytes.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[1000...])) }
        }
        await #expect(throws: ArchiverError.self) { try await writer.commit() }
        await writer.abort()
        #expect(error?.subject == name.value)
        #expect(error?.message.contains("larger than 1000 bytes") == true)
        #expect(error?.message.contains("vfat") == true)
        // Size known in advance: refused before the first byte.
        let early = await #expect(throws: ArchiverError.self) { try await put(backend, name, bytes) }
        #expect(early?.message.contains("1001 bytes, more than 1000") == true)
        #expect(try await backend.stat(name) == nil)
        #expect(try leftovers(in: root).isEmpty)
    }

    @Test("writing into a read-only folder fails clearly", .enabled(if: ReadOnlyFolder.isPossible))
    func readOnlyFolder() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let root = scratch.path + "/repo"
        let backend = LocalBackend(root: root)
        try await backend.initialize(marker: Self.marker())
        try await put(backend, ObjectName("r/locked/before"), [1])
        let folder = try ReadOnlyFolder(root + "/r/locked")
        defer { folder.release() }
        let name = try ObjectName("r/locked/after")
        let error = await #expect(throws: ArchiverError.self) { try await put(backend, name, [2]) }
        #expect(error?.code == .io)
        #expect(error?.subject == name.value)
        #expect(error?.message.contains(root) == true)
        #expect(error?.message.contains("permission denied") == true)
        #expect(error?.cause is POSIXError)
        #expect(try await get(backend, ObjectName("r/locked/before")) == [1])
    }

    @Test("a damaged marker is reported, and init will not replace it")
    func damagedMarker() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let root = scratch.path + "/repo"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data("{\"id\": 12".utf8).write(to: URL(fileURLWithPath: root + "/" + RepositoryMarker.fileName))
        let backend = LocalBackend(root: root)
        let error = await #expect(throws: ArchiverError.self) { try await backend.open() }
        #expect(error?.code == .backend)
        #expect(error?.message.contains("archiver-repository.json is damaged") == true)
        #expect(error?.cause != nil)
        let initError = await #expect(throws: ArchiverError.self) {
            try await backend.initialize(marker: Self.marker())
        }
        #expect(initError?.message.contains("is already an archiver repository") == true)
    }

    @Test("links, temporary files and the marker are not objects")
    func skipsForeignEntries() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let root = scratch.path + "/repo"
        let outside = scratch.path + "/outside"
        let backend = LocalBackend(root: root)
        try await backend.initialize(marker: Self.marker())
        try await put(backend, ObjectName("r/data/real"), [1, 2, 3])
        try FileManager.default.createDirectory(atPath: outside + "/dir", withIntermediateDirectories: true)
        try Data([9]).write(to: URL(fileURLWithPath: outside + "/secret"))
        try Data([9]).write(to: URL(fileURLWithPath: outside + "/dir/inner"))
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: root + "/r/data/link", withDestinationPath: outside + "/secret")
        try fm.createSymbolicLink(atPath: root + "/r/linked-dir", withDestinationPath: outside + "/dir")
        try Data([7]).write(to: URL(fileURLWithPath: root + "/r/data/.tmp-0123456789abcdef.partial"))

        #expect(try await listAll(backend, prefix: "").names == ["r/data/real"])
        #expect(try await backend.stat(ObjectName("r/data/link")) == nil)
        let error = await #expect(throws: ArchiverError.self) { try await get(backend, ObjectName("r/data/link")) }
        #expect(error?.message.contains("symbolic link") == true)
        #expect(try await backend.stat(ObjectName("r/linked-dir/inner")) == nil)
        await #expect(throws: ArchiverError.self) { try await get(backend, ObjectName("r/linked-dir/inner")) }

        let reserved = await #expect(throws: ArchiverError.self) {
            try await backend.openWriter(for: ObjectName(RepositoryMarker.fileName), size: nil, digests: nil)
        }
        #expect(reserved?.message.contains("reserved") == true)
        await #expect(throws: ArchiverError.self) {
            try await backend.openWriter(for: ObjectName("r/.tmp-x.partial"), size: nil, digests: nil)
        }
        await #expect(throws: ArchiverError.self) { try await backend.delete(ObjectName(RepositoryMarker.fileName)) }
        #expect(try await backend.open().id == "repo-id")
    }

    /// The three ways an object gets its name, forced in turn.
    @Test(
        "every publishing fallback stores objects and refuses to overwrite",
        arguments: [FileStore.Publishing.automatic, .linkFallback, .checkedRename])
    func publishingFallbacks(_ publishing: FileStore.Publishing) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let backend = LocalBackend(store: FileStore(root: scratch.path + "/repo", publishing: publishing))
        try await backend.initialize(marker: Self.marker())
        let name = try ObjectName("r/data/object")
        let bytes = PatternSource.bytes(seed: 1, count: 70_000)
        try await put(backend, name, bytes)
        #expect(try await get(backend, name) == bytes)
        let error = await #expect(throws: ArchiverError.self) { try await put(backend, name, [1]) }
        #expect(error?.message.contains("already exists") == true)

        let writerA = try await backend.openWriter(for: ObjectName("r/data/race"), size: nil, digests: nil)
        let writerB = try await backend.openWriter(for: ObjectName("r/data/race"), size: nil, digests: nil)
        let first: [UInt8] = [1, 1]
        let second: [UInt8] = [2, 2, 2]
        try first.withUnsafeBytes { try writerA.write($0) }
        try second.withUnsafeBytes { try writerB.write($0) }
        _ = try await writerA.commit()
        await #expect(throws: ArchiverError.self) { try await writerB.commit() }
        #expect(try await get(backend, ObjectName("r/data/race")) == [1, 1])
        #expect(try leftovers(in: backend.root).isEmpty)
    }

    @Test("a full disk is a quota error naming the target and the object")
    func fullDisk() throws {
        let store = FileStore(root: "/mnt/usb/archive")
        let name = try ObjectName("r/data/x")
        let error = store.failure(ENOSPC, "create a temporary file for object \(name)", object: name)
        #expect(error.code == .quota)
        #expect(error.subject == name.value)
        #expect(error.message.hasPrefix("/mnt/usb/archive is full"))
        #expect((error.cause as? POSIXError)?.code == .ENOSPC)

        let sinkError = ArchiverError(.quota, "cannot write: No space left on device", subject: "/mnt/usb/archive/r/x")
        let restated = store.writeFailure(sinkError, object: name)
        #expect(restated.code == .quota)
        #expect(restated.message.contains("cannot store object r/data/x"))
        #expect(restated.cause != nil)
    }

    @Test("a target that vanishes is reported as unavailable, not as missing objects")
    func vanishedTarget() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let root = scratch.path + "/repo"
        let backend = LocalBackend(root: root)
        try await backend.initialize(marker: Self.marker())
        try await put(backend, ObjectName("r/x"), [1])
        // An unmounted disk leaves an empty mount point.
        try FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        for operation in ["stat", "get", "list", "delete"] {
            let error = await #expect(throws: ArchiverError.self, "\(operation)") {
                switch operation {
                case "stat": _ = try await backend.stat(ObjectName("r/x"))
                case "get": _ = try await get(backend, ObjectName("r/x"))
                case "list": _ = try await backend.list(prefix: "r/", cursor: nil, limit: 10)
                default: try await backend.delete(ObjectName("r/x"))
                }
            }
            #expect(error?.code == .targetUnavailable, "\(operation)")
        }
    }

    @Test("a writer dropped without commit or abort leaves nothing")
    func droppedWriter() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let backend = LocalBackend(root: scratch.path + "/repo")
        try await backend.initialize(marker: Self.marker())
        do {
            let writer = try await backend.openWriter(for: ObjectName("r/dropped"), size: nil, digests: nil)
            let bytes: [UInt8] = [1, 2, 3]
            try bytes.withUnsafeBytes { try writer.write($0) }
            #expect(try !leftovers(in: backend.root).isEmpty)
        }
        #expect(try leftovers(in: backend.root).isEmpty)
        #expect(try await backend.stat(ObjectName("r/dropped")) == nil)
    }
}

/// Makes a folder refuse new files, even to root (which ignores permissions): mode 0555 plus, when running as
/// root, the immutable attribute.
struct ReadOnlyFolder {
    private static let getFlags: UInt = 0x8008_6601  // FS_IOC_GETFLAGS
    private static let setFlags: UInt = 0x4008_6602  // FS_IOC_SETFLAGS
    private static let immutable: Int = 0x10  // FS_IMMUTABLE_FL

    let path: String

    /// Whether this process can make a folder read-only for itself.
    static let isPossible: Bool = {
        guard let scratch = try? Scratch() else { return false }
        defer { scratch.remove() }
        guard let folder = try? ReadOnlyFolder(scratch.path) else { return false }
        defer { folder.release() }
        let fd = open(scratch.path + "/probe", O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd >= 0 { close(fd) }
        return fd < 0
    }()

    /// Makes `path` read-only.
    init(_ path: String) throws {
        self.path = path
        guard chmod(path, 0o555) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        if geteuid() == 0 { try Self.setImmutable(path, true) }
    }

    /// Makes the folder writable again, so it can be removed.
    func release() {
        if geteuid() == 0 { try? Self.setImmutable(path, false) }
        chmod(path, 0o755)
    }

    private static func setImmutable(_ path: String, _ on: Bool) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var flags: Int = 0
        guard ioctl(fd, getFlags, &flags) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        flags = on ? flags | immutable : flags & ~immutable
        guard ioctl(fd, setFlags, &flags) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
}
