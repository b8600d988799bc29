import ArchiverKit

/// Listing pages over a folder tree that is listed one folder at a time (Baidu's `list`).
///
/// Folders are walked depth first, each folder's entries sorted by the bytes of the names they lead to (a folder
/// `a` sorts as `a/`, so `a-b` < `a/x` < `a0`), which yields names in ascending byte order. The cursor is the last
/// name returned: a later page walks straight back to it, skipping whole folders that lie before it, and holds only
/// the entries of the folders on its path.
struct BaiduListing: Sendable {
    /// Lists one folder, given as a name prefix without the trailing slash (`""` is the root); nil when missing.
    let listFolder: @Sendable (String) async throws -> [BaiduBackend.Entry]?

    /// One page of names starting with `prefix`, after `cursor`.
    func page(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        var collector = Collector(limit: max(1, limit))
        // Every name starting with `prefix` lies below the folder the prefix names up to its last slash.
        let start = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        _ = try await walk(start, prefix: prefix, after: cursor, into: &collector)
        return ListPage(
            objects: collector.objects, nextCursor: collector.more ? collector.objects.last?.name.value : nil)
    }

    private struct Collector {
        let limit: Int
        var objects: [ObjectInfo] = []
        var more = false

        /// Adds an object; false when the page is full (and so one more exists).
        mutating func add(_ info: ObjectInfo) -> Bool {
            if objects.count == limit {
                more = true
                return false
            }
            objects.append(info)
            return true
        }
    }

    /// Visits the objects below `folder`.
    /// - Returns: false when the page is full.
    private func walk(_ folder: String, prefix: String, after cursor: String?, into collector: inout Collector)
        async throws -> Bool
    {
        let entries = try await listFolder(folder) ?? []
        let keyed = entries.map { entry -> (key: String, full: String, entry: BaiduBackend.Entry) in
            let full = folder.isEmpty ? entry.name : folder + "/" + entry.name
            return (entry.isDirectory ? full + "/" : full, full, entry)
        }
        .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        for item in keyed {
            if item.entry.isDirectory {
                let key = item.key
                guard key.hasPrefix(prefix) || prefix.hasPrefix(key) else { continue }
                // Every name below `key` sorts before the cursor when the cursor is past `key` and not inside it.
                if let cursor, !cursor.hasPrefix(key), key.utf8.lexicographicallyPrecedes(cursor.utf8) { continue }
                if !(try await walk(item.full, prefix: prefix, after: cursor, into: &collector)) { return false }
            } else {
                // The marker is the repository's, not an object.
                if folder.isEmpty && item.full == RepositoryMarker.fileName { continue }
                guard item.full.hasPrefix(prefix) else { continue }
                if let cursor, !cursor.utf8.lexicographicallyPrecedes(item.full.utf8) { continue }
                guard let name = try? ObjectName(item.full) else { continue }
                if !collector.add(ObjectInfo(name: name, size: item.entry.size, modified: item.entry.modified)) {
                    return false
                }
            }
        }
        return true
    }
}
