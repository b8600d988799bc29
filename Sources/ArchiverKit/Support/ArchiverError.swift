/// The one error type the core reports to users.
///
/// `code` is a category the CLI maps to an exit status in one place; `message` says what happened, to which file
/// or object, and what to do; `cause` keeps the underlying error for logs.
public struct ArchiverError: Error, CustomStringConvertible, Sendable {
    /// Error categories. Extend by adding a static constant.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A short stable identifier, used in JSON output.
        public let name: String
        /// Creates a code.
        /// - Parameter name: the identifier.
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Bad command-line arguments or configuration.
        public static let usage = Code("usage")
        /// A local file could not be read or written.
        public static let io = Code("io")
        /// A key, identity or recipient is missing, malformed or does not match.
        public static let key = Code("key")
        /// Stored data failed authentication or an integrity check (tampered, truncated, wrong key).
        public static let integrity = Code("integrity")
        /// The backend (remote) failed or refused.
        public static let backend = Code("backend")
        /// The remote or local disk is full.
        public static let quota = Code("quota")
        /// The catalog is missing, locked or damaged.
        public static let catalog = Code("catalog")
        /// Another process holds a lock.
        public static let locked = Code("locked")
        /// The target (for example an external disk) is absent or not initialised.
        public static let targetUnavailable = Code("target-unavailable")
        /// A remote login is needed before the run can go on.
        public static let loginNeeded = Code("login-needed")
        /// The run was interrupted by a signal.
        public static let interrupted = Code("interrupted")
        /// A file changed while it was read.
        public static let sourceChanged = Code("source-changed")
        /// The backend forgot an upload session (it expired); the core starts that object over with a fresh secret.
        public static let uploadExpired = Code("upload-expired")
        /// The object's name is taken on the backend by other bytes (objects are never overwritten); the core stores
        /// the object under a new name.
        public static let nameTaken = Code("name-taken")
        /// Something that should not happen; a bug.
        public static let internalError = Code("internal")
    }

    /// The category.
    public var code: Code
    /// What happened and what to do.
    public var message: String
    /// The path or object concerned, when there is one.
    public var subject: String?
    /// The underlying error.
    public var cause: (any Error & Sendable)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: the category.
    ///   - message: a specific explanation.
    ///   - subject: the file or object concerned.
    ///   - cause: the underlying error.
    public init(_ code: Code, _ message: String, subject: String? = nil, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.subject = subject
        self.cause = cause
    }

    public var description: String {
        if let subject { return "\(subject): \(message)" }
        return message
    }
}
