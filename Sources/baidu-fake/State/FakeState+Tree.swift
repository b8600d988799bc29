/// The folder tree: entries by path plus a children index, and the quota's `used`.
extension FakeState {
    /// Creates `path` and any missing parent folders (Baidu creates parents implicitly).
    /// - Returns: false when a file stands where a folder is needed.
    @discardableResult
    func makeFolders(_ path: String, now: Int) -> Bool {
        if let existing = entries[path] { return existing.isDir }
        guard makeFolders(RemotePath.parent(of: path), now: now) else { return false }
        insert(
            Entry(
                fsID: takeFsID(), path: path, isDir: true, ctime: now, mtime: now, localCtime: now,
                localMtime: now))
        return true
    }

    func insert(_ entry: Entry) {
        entries[entry.path] = entry
        pathsByID[entry.fsID] = entry.path
        children[RemotePath.parent(of: entry.path), default: []].insert(entry.path)
        if !entry.isDir { used += entry.size }
    }

    /// Removes `path` and everything below it; committed contents are unlinked.
    func remove(_ path: String) {
        for entry in detach(path) where !entry.isDir {
            if let blob = entry.blob { store.remove(blob) }
        }
    }

    /// Takes `path` and everything below it out of the tree, parents first, leaving their contents on disk.
    func detach(_ path: String) -> [Entry] {
        guard let entry = entries.removeValue(forKey: path) else { return [] }
        pathsByID[entry.fsID] = nil
        children[RemotePath.parent(of: path)]?.remove(path)
        if !entry.isDir { used -= entry.size }
        var removed = [entry]
        for child in (children.removeValue(forKey: path) ?? []).sorted() {
            removed.append(contentsOf: detach(child))
        }
        return removed
    }

    /// The entries directly inside `path`.
    func contents(of path: String) -> [Entry] {
        (children[path] ?? []).compactMap { entries[$0] }
    }

    /// Everything below `path`, parents before their children, siblings by name.
    func descendants(of path: String) -> [Entry] {
        var result: [Entry] = []
        for entry in contents(of: path).sorted(by: { $0.path < $1.path }) {
            result.append(entry)
            if entry.isDir { result.append(contentsOf: descendants(of: entry.path)) }
        }
        return result
    }

    /// Where a new item called like `path` goes under Baidu's rtype/ondup rules.
    enum Placement {
        case fresh(String)
        case replace(String)
        case existing(Entry)
    }

    /// Applies a naming policy: 0 fail on conflict (-8), 1 rename, 2 rename unless the same content,
    /// 3 overwrite (a folder is never overwritten).
    func place(_ path: String, rtype: Int, blockList: [String]? = nil, isDir: Bool) throws(APIError) -> Placement {
        guard let existing = entries[path] else { return .fresh(path) }
        switch rtype {
        case 1:
            return .fresh(freeName(for: path))
        case 2:
            if let blockList, !existing.isDir, existing.blockList == blockList { return .existing(existing) }
            return .fresh(freeName(for: path))
        case 3:
            if isDir && existing.isDir { return .existing(existing) }
            guard !isDir, !existing.isDir else { throw APIError(code: -8, message: "file already exists") }
            return .replace(path)
        default:
            throw APIError(code: -8, message: "file already exists")
        }
    }

    /// `name(1).ext`, `name(2).ext`, ... whichever is free first.
    func freeName(for path: String) -> String {
        var attempt = 1
        while entries[RemotePath.renamed(path, attempt: attempt)] != nil { attempt += 1 }
        return RemotePath.renamed(path, attempt: attempt)
    }
}
