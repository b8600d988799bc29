/// An error from parsing, wrapping, unwrapping, encrypting or decrypting age data.
///
/// The `kind` classifies the failure so callers can react to it (a wrong key is not a corrupt file),
/// and `message` says specifically what was wrong, for people.
public struct AgeError: Error, CustomStringConvertible, Equatable {
    /// The class of an ``AgeError``.
    public enum Kind: Sendable {
        /// No identity could unwrap the file key from any stanza of the header.
        case noMatch
        /// A file key was unwrapped, but the header MAC did not verify with it: the header was altered.
        case hmacMismatch
        /// The header is malformed, too large, ends early, or holds a malformed stanza of a known type.
        case header
        /// A payload chunk did not authenticate, data follows the final chunk, or a chunk is misused.
        case payload
        /// The payload ended before its final chunk: at a chunk boundary (the last full chunk authenticates as
        /// non-final, or there is no chunk at all), or too early to hold even a chunk's 16-byte tag.
        case truncated
        /// The file names an age format version other than v1.
        case unsupportedVersion
        /// Key material is malformed: a bad recipient or identity string, or a key or secret of the wrong size.
        case invalidKey
    }

    /// The class of the failure.
    public var kind: Kind
    /// What specifically is wrong.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - kind: The class of the failure.
    ///   - message: What specifically is wrong.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The kind and the message, for logs and command-line output.
    public var description: String {
        "age: \(kind): \(message)"
    }
}
