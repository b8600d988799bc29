/// One finished file for `Catalog.recordStoredFiles`: what a backup learned about it after its objects were stored.
public enum FileRecord: Sendable {
    /// A file's new current version and its content.
    /// - Parameters:
    ///   - source: the source's remote prefix.
    ///   - version: the version; its `contentID` is replaced by the content's.
    ///   - content: what holds its bytes.
    ///   - pendingUploadPath: the path whose pending uploads (digests-first backends) end with this record.
    case stored(source: String, version: NewVersion, content: FileContent, pendingUploadPath: [UInt8]?)
    /// A current version whose file was read again and found the same (the mtime race guard asked for it).
    case confirmed(versionID: Int64)

    /// Where a recorded file's bytes are.
    public enum FileContent: Sendable {
        /// A content this run stored, with its objects in segment order.
        case new(NewContent, objects: [NewObject])
        /// A content already in the catalog (deduplicated).
        case existing(Int64)
        /// No content: an empty file kept without an object.
        case empty
    }
}
