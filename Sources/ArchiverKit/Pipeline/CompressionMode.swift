/// What the user asked for: `0` (off), `1`–`9` (gzip level), or `auto` (gzip where it pays).
public enum CompressionMode: Sendable, Hashable, CustomStringConvertible {
    /// Store the plaintext uncompressed.
    case off
    /// Always gzip at this level (1–9).
    case level(Int)
    /// Gzip at `level` unless the file is a known compressed type or its first MiB does not shrink below 90 %.
    case auto(level: Int)

    /// The level `auto` compresses at: zlib's default, a good ratio at a rate well above a NAS uplink.
    public static let defaultAutoLevel = 6

    /// Parses the config and command-line form: `auto`, `auto:N`, `0`…`9`, `off`.
    /// - Parameter text: the value as written.
    /// - Throws: `ArchiverError` (`.usage`) naming what is allowed.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch t {
        case "auto": self = .auto(level: Self.defaultAutoLevel)
        case "off", "0", "false", "no": self = .off
        default:
            if t.hasPrefix("auto:"), let n = Int(t.dropFirst(5)), (1...9).contains(n) {
                self = .auto(level: n)
            } else if let n = Int(t), (1...9).contains(n) {
                self = .level(n)
            } else {
                throw ArchiverError(.usage, "compression '\(text)' is not valid: use 0 (off), 1-9 (gzip level), auto or auto:N")
            }
        }
    }

    public var description: String {
        switch self {
        case .off: "0"
        case .level(let n): "\(n)"
        case .auto(let n): n == Self.defaultAutoLevel ? "auto" : "auto:\(n)"
        }
    }
}

/// How one stored object's payload is actually compressed (the outcome of a `CompressionMode`).
public enum PayloadCompression: Sendable, Hashable {
    /// The payload is the plaintext.
    case none
    /// The payload is gzip members at this level.
    case gzip(level: Int)

    /// The form recorded in the catalog: `none` or `gzip:N`.
    public var catalogName: String {
        if case .gzip(let level) = self { "gzip:\(level)" } else { "none" }
    }

    /// Reads the catalog's form back; the level does not matter for reading, only that the payload is gzip.
    /// - Parameter catalogName: `none` or `gzip:N`.
    public init(catalogName: String) {
        let level = Int(catalogName.dropFirst("gzip:".count)) ?? 0
        self = catalogName.hasPrefix("gzip") ? .gzip(level: level) : .none
    }

    /// True when the payload must be inflated on restore.
    public var isCompressed: Bool { self != .none }

    /// The object-name suffix that records the payload form: `.gz.age`, `.age`, `.gz` or nothing.
    /// - Parameter encrypted: whether the object is an age file.
    public func suffix(encrypted: Bool) -> String {
        (isCompressed ? ".gz" : "") + (encrypted ? ".age" : "")
    }
}

import Foundation
