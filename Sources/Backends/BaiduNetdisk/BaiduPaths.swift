import ArchiverKit

/// Object names to Baidu paths and back, with Baidu's naming rules (section 3.7 of the API notes).
///
/// The core's namer already escapes names by the backend's capabilities; these checks refuse a name that would still
/// break a rule, with a message that says which, instead of Baidu's bare -7 or 31062.
struct BaiduPaths: Sendable {
    /// The repository root, `/apps/<app>[/<subfolder>]`, without a trailing slash.
    let root: String

    /// Characters Baidu refuses in names.
    static let forbidden: Set<Character> = ["\\", "?", "|", "\"", ">", "<", ":", "*"]
    static let maxPathLength = 1000
    static let maxNameLength = 255

    /// Longest object name: Baidu's 1000 less the root and its slash.
    var maxNameLength: Int { Self.maxPathLength - root.utf8.count - 1 }

    /// The absolute path of an object.
    func path(_ name: ObjectName) -> String { root + "/" + name.value }

    /// The absolute path of a folder given as a name prefix (`""` is the root).
    func folder(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    /// The object name for a path Baidu returned, or nil when it lies outside the root.
    func name(forPath path: String) -> ObjectName? {
        guard path.hasPrefix(root + "/") else { return nil }
        return try? ObjectName(String(path.dropFirst(root.count + 1)))
    }

    /// Refuses a name Baidu would refuse.
    /// - Throws: `ArchiverError(.backend)` naming the object and the rule.
    func check(_ name: ObjectName) throws {
        for component in name.components {
            if let problem = Self.problem(String(component)) {
                throw ArchiverError(
                    .backend, "object name \(name) cannot be stored on Baidu Netdisk: '\(component)' \(problem)",
                    subject: name.value)
            }
        }
        if name.value.utf8.count > maxNameLength {
            throw ArchiverError(
                .backend,
                "object name \(name) cannot be stored on Baidu Netdisk: with the root \(root) the path is longer "
                    + "than \(Self.maxPathLength) bytes",
                subject: name.value)
        }
    }

    /// What is wrong with one name component for Baidu, or nil.
    static func problem(_ component: String) -> String? {
        if component.isEmpty { return "is empty" }
        if component.utf8.count > maxNameLength { return "is longer than \(maxNameLength) bytes" }
        if let bad = component.first(where: { forbidden.contains($0) }) { return "contains '\(bad)'" }
        if component.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "contains a control character"
        }
        if component.unicodeScalars.contains(where: { $0.value > 0xFFFF }) {
            return "contains a 4-byte UTF-8 character (emoji)"
        }
        let edges = [component.first!, component.last!]
        if edges.contains(where: { $0 == "." || $0.isWhitespace }) { return "starts or ends with a dot or a space" }
        return nil
    }

    /// A component of the root (the app name, the spec's subfolder), checked like object names.
    /// - Throws: `ArchiverError(.usage)` naming `key`.
    static func checkedComponent(_ component: String, key: String) throws -> String {
        if let problem = problem(component) {
            throw ArchiverError(.usage, "\(key): '\(component)' \(problem), which Baidu Netdisk refuses")
        }
        return component
    }
}
