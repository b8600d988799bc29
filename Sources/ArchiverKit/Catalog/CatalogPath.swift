/// Byte-path helpers. Relative paths are `/`-separated byte strings; nothing here decodes them as text, so
/// invalid UTF-8 and differently normalised twins stay distinct.
enum CatalogPath {
    static let slash: UInt8 = 0x2F
    /// The byte after `/`: every path strictly below `d` sorts in `[d + "/", d + "0")` as bytes.
    static let afterSlash: UInt8 = 0x30



    /// The half-open byte range of `dir` values strictly below `path`.
    static func below(_ path: [UInt8]) -> (lower: [UInt8], upper: [UInt8]) {
        (path + [slash], path + [afterSlash])
    }

    /// Checks a name component: non-empty, not `.` or `..`, no `/` or NUL. A bad name would break the prefix
    /// ranges that find a folder's subtree, so it is refused rather than stored.
    static func validateName(_ name: [UInt8]) throws {
        guard !name.isEmpty, name != [0x2E], name != [0x2E, 0x2E], !name.contains(slash), !name.contains(0) else {
            throw ArchiverError(.internalError, "'\(BytePath.display(name))' is not a valid path component")
        }
    }

    /// Checks a relative folder path: empty (the root) or valid components joined by single slashes.
    static func validateDir(_ dir: [UInt8]) throws {
        if dir.isEmpty { return }
        for part in dir.split(separator: slash, omittingEmptySubsequences: false) {
            do {
                try validateName(Array(part))
            } catch {
                throw ArchiverError(.internalError, "'\(BytePath.display(dir))' is not a valid relative folder path")
            }
        }
    }

}
