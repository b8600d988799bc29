import Synchronization

/// Turns a backend spec (`local:/mnt/usb/archive`, `mock:`, `mock:DIR`, `baidu:`) into a backend.
///
/// The core knows no backend by name: each backend registers a factory for its scheme at start-up
/// (`Backends.registerAll()`), the way swift-log handlers bootstrap.
public enum BackendRegistry {
    /// Everything a factory may need besides the spec's argument.
    public struct Context: Sendable {
        /// The config file's folder, for resolving relative paths.
        public var baseDirectory: String
        /// Backend-specific settings from the config, by backend scheme (the `baidu:` block, for example),
        /// already decoded to plain values.
        public var settings: [String: [String: String]]
        /// Creates a context.
        public init(baseDirectory: String, settings: [String: [String: String]] = [:]) {
            self.baseDirectory = baseDirectory
            self.settings = settings
        }
    }

    /// Makes a backend from the text after `scheme:`.
    public typealias Factory = @Sendable (_ argument: String, _ context: Context) throws -> any RemoteBackend

    private static let factories = Mutex<[String: Factory]>([:])

    /// Registers the factory for a scheme, replacing an earlier one.
    /// - Parameters:
    ///   - scheme: the part before `:` (`local`).
    ///   - factory: makes the backend.
    public static func register(scheme: String, factory: @escaping Factory) {
        factories.withLock { $0[scheme.lowercased()] = factory }
    }

    /// Registered schemes, sorted.
    public static var schemes: [String] { factories.withLock { $0.keys.sorted() } }

    /// Makes a backend from a spec. A bare scheme (`mock`, `baidu`) is read as `scheme:`.
    /// - Parameters:
    ///   - spec: the spec as written in the config.
    ///   - context: settings and base folder.
    /// - Throws: `ArchiverError(.usage)` for an unknown scheme, naming the known ones.
    public static func make(spec: String, context: Context) throws -> any RemoteBackend {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        let scheme: String
        let argument: String
        if let colon = trimmed.firstIndex(of: ":") {
            scheme = String(trimmed[..<colon]).lowercased()
            argument = String(trimmed[trimmed.index(after: colon)...])
        } else {
            scheme = trimmed.lowercased()
            argument = ""
        }
        guard let factory = factories.withLock({ $0[scheme] }) else {
            throw ArchiverError(
                .usage,
                "unknown backend '\(spec)': use one of \(schemes.map { "\($0):" }.joined(separator: ", "))")
        }
        return try factory(argument, context)
    }
}

import Foundation
