/// The name of one stored object, relative to the backend's root: `/`-separated, no empty, `.` or `..`
/// components, no leading or trailing `/`, no NUL.
///
/// Object names are chosen by the core (opaque random names, or mirrored paths made safe for the backend), so a
/// backend may rely on them being well formed.
public struct ObjectName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The name as text.
    public let value: String

    /// Validates a name.
    /// - Parameter value: the name.
    /// - Throws: `ArchiverError(.internalError)` for a malformed name.
    public init(_ value: String) throws {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        guard !value.isEmpty, !value.contains("\0"),
            parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else {
            throw ArchiverError(.internalError, "'\(value)' is not a valid object name")
        }
        self.value = value
    }

    /// The components between `/`.
    public var components: [Substring] { value.split(separator: "/") }

    public var description: String { value }

    /// Names order by their UTF-8 bytes, as backends list them and cursors compare them.
    public static func < (lhs: ObjectName, rhs: ObjectName) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
