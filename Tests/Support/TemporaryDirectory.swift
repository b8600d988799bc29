public import Foundation

/// A fresh folder under the system temporary directory, removed when the value is dropped.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The folder.
    public let url: URL
    /// The folder's path.
    public var path: String { url.path }

    /// Creates the folder.
    /// - Parameter prefix: a name prefix, for finding leftovers.
    public init(prefix: String = "archiver-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        // Tests make folders unreadable on purpose; give them back before removing.
        _ = try? FileManager.default.subpathsOfDirectory(atPath: path).forEach {
            chmod(url.appendingPathComponent($0).path, 0o755)
        }
        try? FileManager.default.removeItem(at: url)
    }

    /// A path inside the folder.
    /// - Parameter name: a relative path.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes bytes to a file inside the folder, creating parent folders.
    /// - Parameters:
    ///   - name: a relative path.
    ///   - bytes: the content.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let target = file(name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: target)
        return target
    }
}

/// Deterministic test content.
public enum TestBytes {
    /// Pseudo-random bytes (incompressible), reproducible from `seed`.
    public static func random(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var v = state ^ (state >> 29)
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: v)
                v >>= 8
                i += 1
            }
        }
        return out
    }

    /// Text-like bytes that gzip shrinks about 3-4:1, reproducible from `seed`.
    public static func text(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        let words = [
            "backup", "archive", "photo", "netdisk", "stream", "chunk", "family", "video", "holiday", "2026",
            "restore", "verify", "catalog", "slice", "upload", "night", "the", "of", "and", "a",
        ]
        var state = seed
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        while out.count < count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.append(contentsOf: words[Int(state >> 40) % words.count].utf8)
            out.append((state >> 20) % 11 == 0 ? 10 : 32)
        }
        return Array(out.prefix(count))
    }
}
