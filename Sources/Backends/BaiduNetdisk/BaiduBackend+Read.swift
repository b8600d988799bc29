public import ArchiverKit

/// Downloads.
extension BaiduBackend {
    /// The cause of a missing-object error.
    struct NotFound: Error, Sendable, CustomStringConvertible {
        var path: String
        var description: String { "\(path) does not exist on Baidu Netdisk" }
    }

    public func openReader(for name: ObjectName, range: Range<Int64>?) async throws -> any ObjectReader {
        guard let entry = try await entry(for: name) else {
            throw ArchiverError(
                .backend, "object \(name) is missing from \(paths.root)", subject: name.value,
                cause: NotFound(path: paths.path(name)))
        }
        return try await openReader(entry, name: name, range: range ?? 0..<entry.size)
    }

    /// A reader of `range` of a listed object.
    func openReader(_ entry: Entry, name: ObjectName, range: Range<Int64>) async throws -> BaiduObjectReader {
        guard range.lowerBound >= 0, range.upperBound <= entry.size else {
            throw ArchiverError(
                .backend,
                "object \(name) has \(entry.size) bytes; the range \(range.lowerBound)..<\(range.upperBound) lies "
                    + "beyond its end",
                subject: name.value, cause: NotFound(path: paths.path(name)))
        }
        return BaiduObjectReader(source: BaiduDownload(backend: self, name: name, fsID: entry.fsID), range: range)
    }
}
