/// Baidu's rules for remote paths (API notes §3.7): absolute, at most 1000 characters, no `\ ? | " > < : *`,
/// no segment starting or ending with a dot or whitespace, no 4-byte UTF-8 (emoji).
enum RemotePath {
    /// Why a path was refused.
    enum Problem: Error, Equatable {
        case invalid(String)
    }

    private static let forbidden: Set<Character> = ["\\", "?", "|", "\"", ">", "<", ":", "*"]
    private static let blanks: Set<Character> = [" ", "\t", "\r", "\n", "\0", "\u{0B}"]

    /// The path with one trailing slash removed (except for the root), or the rule it breaks.
    static func normalize(_ raw: String) throws(Problem) -> String {
        guard raw.hasPrefix("/") else { throw .invalid("path must be absolute") }
        guard raw.count <= 1000 else { throw .invalid("path longer than 1000 characters") }
        var path = raw
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        if path == "/" { return path }
        for segment in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            try checkName(String(segment))
        }
        return path
    }

    /// Checks one file or folder name.
    static func checkName(_ name: String) throws(Problem) {
        guard !name.isEmpty else { throw .invalid("empty path segment") }
        if let bad = name.first(where: { forbidden.contains($0) }) {
            throw .invalid("file name contains '\(bad)'")
        }
        if name.unicodeScalars.contains(where: { $0.value > 0xFFFF }) {
            throw .invalid("file name contains a 4-byte UTF-8 character")
        }
        for end in [name.first, name.last].compactMap({ $0 }) where end == "." || blanks.contains(end) {
            throw .invalid("file name starts or ends with a dot or whitespace")
        }
    }

    /// The folder holding `path` ("/" for a top-level name).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// The last segment of `path`.
    static func name(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `child` inside `folder`.
    static func join(_ folder: String, _ child: String) -> String {
        folder == "/" ? "/\(child)" : "\(folder)/\(child)"
    }

    /// Whether `path` is `folder` itself or inside it.
    static func isInside(_ path: String, _ folder: String) -> Bool {
        folder == "/" || path == folder || path.hasPrefix(folder + "/")
    }

    /// Baidu's rename pattern for conflicts: `name(1).ext`, `dir(1)`, then (2), (3)...
    static func renamed(_ path: String, attempt: Int) -> String {
        let folder = parent(of: path)
        let name = name(of: path)
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            return join(folder, "\(name[..<dot])(\(attempt))\(name[dot...])")
        }
        return join(folder, "\(name)(\(attempt))")
    }

    /// The category Baidu gives a name: 1 video, 2 audio, 3 image, 4 document, 5 app, 7 torrent, 6 other.
    static func category(of name: String) -> Int {
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch ext {
        case "mp4", "mkv", "avi", "mov", "wmv", "flv", "rmvb", "webm", "ts", "m4v": return 1
        case "mp3", "flac", "wav", "aac", "m4a", "ogg", "ape", "wma": return 2
        case "jpg", "jpeg", "png", "gif", "bmp", "webp", "heic", "tif", "tiff": return 3
        case "txt", "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "md", "rtf", "csv": return 4
        case "exe", "apk", "dmg", "msi", "ipa": return 5
        case "torrent": return 7
        default: return 6
        }
    }
}
