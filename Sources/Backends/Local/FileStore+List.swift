import ArchiverKit
import Glibc

extension FileStore {
    /// One folder entry that may hold or be an object.
    private struct Entry {
        /// The entry's name in its folder.
        var name: String
        /// Whether it is a folder to descend into (otherwise a regular file).
        var isFolder: Bool
        /// Its place in the listing order: the full name's bytes, with a trailing `/` for a folder, so that a
        /// folder's objects sort exactly where their full names do (`a-b` < `a/x` < `a0`).
        var key: [UInt8]
    }

    /// A folder being walked: its sorted entries and how far the walk got.
    private struct Frame {
        var folder: OpenDirectory
        var entries: [Entry]
        var next = 0
    }

    /// Lists objects whose names start with `prefix`, in ascending byte order of their names, after `cursor`.
    ///
    /// The walk starts at the deepest folder the prefix names, reads one folder at a time, sorts its entries and
    /// skips whole folders whose names all sort at or before the cursor. Memory is bounded by the folders on the
    /// current path, never by the tree. Symbolic links, the marker and temporary files are not objects.
    /// - Parameters:
    ///   - prefix: a name prefix, not necessarily ending at a `/`.
    ///   - cursor: the last name of the previous page.
    ///   - limit: the most objects returned (at least one).
    func list(prefix: String, cursor: String?, limit: Int) throws -> ListPage {
        let limit = max(1, limit)
        try checkTargetPresent()
        let prefixBytes = Array(prefix.utf8)
        let cursorBytes = cursor.map { Array($0.utf8) }
        let baseKey: [UInt8]
        if let slash = prefixBytes.lastIndex(of: UInt8(ascii: "/")) {
            baseKey = Array(prefixBytes[...slash])
        } else {
            baseKey = []
        }
        let basePath = String(decoding: baseKey, as: UTF8.self)
        let components = basePath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        // A prefix such as `a//b` or `../x` cannot start any valid object name.
        guard components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }),
            let base = try openFolder(components, create: false, object: nil)
        else {
            return ListPage(objects: [], nextCursor: nil)
        }

        var stack = [
            Frame(
                folder: base,
                entries: try entries(
                    of: base, key: baseKey, isRoot: components.isEmpty, prefix: prefixBytes, cursor: cursorBytes))
        ]
        var objects: [ObjectInfo] = []
        var more = false
        walk: while !stack.isEmpty {
            let top = stack.count - 1
            guard stack[top].next < stack[top].entries.count else {
                stack.removeLast()
                continue
            }
            let entry = stack[top].entries[stack[top].next]
            stack[top].next += 1
            let folder = stack[top].folder
            if entry.isFolder {
                let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                let fd = retryingInterrupts { openat(folder.fd, entry.name, flags) }
                guard fd >= 0 else {
                    let code = errno
                    // Removed or replaced by a link since the folder was read: not part of the listing.
                    if code == ENOENT || code == ENOTDIR || code == ELOOP { continue }
                    throw failure(code, "list the folder \(String(decoding: entry.key, as: UTF8.self))", object: nil)
                }
                let child = OpenDirectory(fd: fd)
                stack.append(
                    Frame(
                        folder: child,
                        entries: try entries(
                            of: child, key: entry.key, isRoot: false, prefix: prefixBytes, cursor: cursorBytes)))
                continue
            }
            guard case .success(let facts) = FileFacts.of(entry.name, in: folder), facts.isRegularFile else {
                continue  // deleted since the folder was read
            }
            if objects.count == limit {
                more = true
                break walk
            }
            let name = try ObjectName(String(decoding: entry.key, as: UTF8.self))
            objects.append(ObjectInfo(name: name, size: facts.size, modified: facts.modified))
        }
        return ListPage(objects: objects, nextCursor: more ? objects.last?.name.value : nil)
    }

    /// Reads one folder: the entries that may hold objects after `cursor` under `prefix`, sorted.
    private func entries(
        of folder: OpenDirectory, key: [UInt8], isRoot: Bool, prefix: [UInt8], cursor: [UInt8]?
    ) throws -> [Entry] {
        let path = key.isEmpty ? "the root folder" : "the folder \(String(decoding: key, as: UTF8.self))"
        // fdopendir takes ownership of its descriptor; the duplicate leaves `folder` open for the walk.
        let duplicate = dup(folder.fd)
        guard duplicate >= 0 else { throw failure(errno, "list \(path)", object: nil) }
        guard let stream = fdopendir(duplicate) else {
            let code = errno
            Glibc.close(duplicate)
            throw failure(code, "list \(path)", object: nil)
        }
        defer { closedir(stream) }
        rewinddir(stream)

        var result: [Entry] = []
        while true {
            errno = 0
            guard let raw = readdir(stream) else {
                if errno != 0 { throw failure(errno, "list \(path)", object: nil) }
                break
            }
            let record = raw.pointee
            // Names that are not UTF-8 were not written by archiver: object names are Swift strings.
            let decoded = withUnsafeBytes(of: record.d_name) { bytes in
                String(validatingCString: bytes.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard let name = decoded, name != ".", name != ".." else { continue }
            let isFolder: Bool
            switch Int32(record.d_type) {
            case Int32(DT_DIR):
                isFolder = true
            case Int32(DT_REG):
                isFolder = false
            case Int32(DT_UNKNOWN):
                // Some file systems do not fill d_type; ask the inode.
                guard case .success(let facts) = FileFacts.of(name, in: folder),
                    facts.isDirectory || facts.isRegularFile
                else { continue }
                isFolder = facts.isDirectory
            default:
                continue  // symbolic links, devices, sockets: never objects
            }
            if !isFolder && (Self.isTemporary(name) || (isRoot && name == RepositoryMarker.fileName)) { continue }
            var entryKey = key + Array(name.utf8)
            if isFolder {
                entryKey.append(UInt8(ascii: "/"))
                guard entryKey.starts(with: prefix) || prefix.starts(with: entryKey) else { continue }
                // Every name inside sorts before the cursor when the cursor is past the folder and not inside it.
                if let cursor, entryKey.lexicographicallyPrecedes(cursor), !cursor.starts(with: entryKey) {
                    continue
                }
            } else {
                guard entryKey.starts(with: prefix) else { continue }
                if let cursor, !cursor.lexicographicallyPrecedes(entryKey) { continue }
            }
            result.append(Entry(name: name, isFolder: isFolder, key: entryKey))
        }
        result.sort { $0.key.lexicographicallyPrecedes($1.key) }
        return result
    }
}
