/// A compressed stream that cannot be produced or read back.
public struct CodecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, so callers can map it to a user-facing category.
    public enum Kind: Sendable, Equatable {
        /// The stream is not valid gzip/zlib data (bad header, bad deflate data, CRC or length mismatch).
        case corrupt
        /// The input ended before the stream was complete.
        case truncated
        /// The stream would inflate to more bytes than the caller allowed (a bomb, or a wrong expected size).
        case tooLarge
        /// zlib refused to start or ran out of memory.
        case library
    }

    /// The category of the failure.
    public var kind: Kind
    /// A specific explanation for the user.
    public var message: String

    /// Creates an error of a given kind.
    /// - Parameters:
    ///   - kind: the category.
    ///   - message: a specific explanation.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
