import Codecs
import Foundation

/// What the user asked for: `0` (off), `1`–`9` (gzip level), `auto` (gzip where it pays), or `zstd` / `zstd:N`.
public enum CompressionMode: Sendable, Hashable, CustomStringConvertible {
    /// Store the plaintext uncompressed.
    case off
    /// Always gzip at this level (1–9).
    case level(Int)
    /// Gzip at `level` unless the file is a known compressed type or its first MiB does not shrink below 90 %.
    case auto(level: Int)
    /// Always zstd at this level (1–19): independent frames, read back by `zstd -d`.
    case zstd(level: Int)

    /// The level `auto` compresses at: zlib's default, a good ratio at a rate well above a NAS uplink.
    public static let defaultAutoLevel = 6

    /// Every form the parser accepts, for messages.
    public static let accepted = "0 (off), 1-9 (gzip level), auto, auto:N, zstd (level 3) or zstd:N (1-19)"

    /// Parses the config and command-line form: `auto`, `auto:N`, `0`…`9`, `off`, `zstd`, `zstd:N`.
    /// - Parameter text: the value as written.
    /// - Throws: `ArchiverError` (`.usage`) naming what is allowed.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch t {
        case "auto": self = .auto(level: Self.defaultAutoLevel)
        case "off", "0", "false", "no": self = .off
        case "zstd": self = .zstd(level: Zstd.defaultLevel)
        default:
            if t.hasPrefix("auto:"), let n = Int(t.dropFirst(5)), (1...9).contains(n) {
                self = .auto(level: n)
            } else if t.hasPrefix("zstd:"), let n = Int(t.dropFirst(5)), Zstd.levels.contains(n) {
                self = .zstd(level: n)
            } else if let n = Int(t), (1...9).contains(n) {
                self = .level(n)
            } else {
                throw ArchiverError(.usage, "compression '\(text)' is not valid: use \(Self.accepted)")
            }
        }
    }

    /// The mode that always produces `payload`, for regenerating an object whose form was decided earlier.
    /// - Parameter payload: the form decided for the file.
    public init(always payload: PayloadCompression) {
        switch payload {
        case .none: self = .off
        case .gzip(let level): self = .level(level)
        case .zstd(let level): self = .zstd(level: level)
        }
    }

    public var description: String {
        switch self {
        case .off: "0"
        case .level(let n): "\(n)"
        case .auto(let n): n == Self.defaultAutoLevel ? "auto" : "auto:\(n)"
        case .zstd(let n): n == Zstd.defaultLevel ? "zstd" : "zstd:\(n)"
        }
    }
}

/// How one stored object's payload is actually compressed (the outcome of a `CompressionMode`).
public enum PayloadCompression: Sendable, Hashable {
    /// The payload is the plaintext.
    case none
    /// The payload is gzip members at this level.
    case gzip(level: Int)
    /// The payload is zstd frames at this level.
    case zstd(level: Int)

    /// The form recorded in the catalog: `none`, `gzip:N` or `zstd:N`.
    public var catalogName: String {
        switch self {
        case .none: "none"
        case .gzip(let level): "gzip:\(level)"
        case .zstd(let level): "zstd:\(level)"
        }
    }

    /// Reads the catalog's form back; the level does not matter for reading, only which format the payload is.
    /// - Parameter catalogName: `none`, `gzip:N` or `zstd:N`.
    public init(catalogName: String) {
        let level = Int(catalogName.drop { $0 != ":" }.dropFirst()) ?? 0
        if catalogName.hasPrefix("gzip") {
            self = .gzip(level: level)
        } else if catalogName.hasPrefix("zstd") {
            self = .zstd(level: level)
        } else {
            self = .none
        }
    }

    /// Whether `text` is exactly a form the catalog records: `none`, `gzip:1`…`gzip:9` or `zstd:1`…`zstd:19`.
    /// - Parameter text: the catalog's compression text.
    static func isValidCatalogName(_ text: String) -> Bool {
        switch PayloadCompression(catalogName: text) {
        case .none: text == "none"
        case .gzip(let level): (1...9).contains(level) && text == "gzip:\(level)"
        case .zstd(let level): Zstd.levels.contains(level) && text == "zstd:\(level)"
        }
    }

    /// True when the payload must be decompressed on restore.
    public var isCompressed: Bool { self != .none }

    /// The name of the compressed format (`gzip`, `zstd`), or nil for the plaintext.
    public var formatName: String? {
        switch self {
        case .none: nil
        case .gzip: "gzip"
        case .zstd: "zstd"
        }
    }

    /// The object-name suffix that records the payload form: `.gz.age`, `.zst.age`, `.age`, `.gz`, `.zst` or
    /// nothing.
    /// - Parameter encrypted: whether the object is an age file.
    public func suffix(encrypted: Bool) -> String {
        let compressed =
            switch self {
            case .none: ""
            case .gzip: ".gz"
            case .zstd: ".zst"
            }
        return compressed + (encrypted ? ".age" : "")
    }
}
