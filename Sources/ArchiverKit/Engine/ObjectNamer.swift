import Foundation

/// Chooses object names for one repository on one backend.
///
/// Every object of repository `<id>` lives under `<id>/`: `data/` (opaque), `files/` (mirror), `catalog/`
/// (catalog copies). Names are never reused, so objects are never overwritten.
struct ObjectNamer: Sendable {
    let repositoryID: String
    let capabilities: BackendCapabilities

    /// A fresh random name: `<id>/data/<2 hex>/<32 hex><suffix>`.
    func opaque(suffix: String) -> ObjectName {
        let hex = Self.randomHex(16)
        return try! ObjectName("\(dataPrefix)\(hex.prefix(2))/\(hex)\(suffix)")
    }

    /// `<id>/data/<2 hex>/<32 hex><suffix>` from the first 16 bytes of `digest`: the same object copied twice gets
    /// the same name, so a copy killed after an upload finds the object instead of uploading it again.
    func derived(from digest: [UInt8], suffix: String) -> ObjectName {
        let hex = Self.hex(digest.prefix(16))
        return try! ObjectName("\(repositoryID)/data/\(hex.prefix(2))/\(hex)\(suffix)")
    }

    /// `<id>/files/<source>/<escaped path>.<tag><suffix>`, or an opaque name when the path cannot be made to
    /// fit the backend's length limits.
    func mirror(source: String, path: [UInt8], tag: String, suffix: String) -> ObjectName {
        var components = [escape(Array(source.utf8))]
        var start = 0
        for (i, byte) in path.enumerated() where byte == UInt8(ascii: "/") {
            components.append(escape(Array(path[start..<i])))
            start = i + 1
        }
        components.append(escape(Array(path[start...])) + ".\(tag)\(suffix)")
        let name = filesPrefix + components.joined(separator: "/")
        let fits =
            components.allSatisfy { $0.utf8.count <= capabilities.maxNameLength }
            && capabilities.maxPathLength.map { name.utf8.count <= $0 } ?? true
        guard fits, let objectName = try? ObjectName(name) else { return opaque(suffix: suffix) }
        return objectName
    }

    /// `<id>/catalog/<UTC time>.<kind>`.
    func catalogCopy(time: Date, suffix: String) -> ObjectName {
        try! ObjectName("\(repositoryID)/catalog/\(Self.timestamp(time))\(suffix)")
    }

    /// Where opaque objects live.
    var dataPrefix: String { "\(repositoryID)/data/" }

    /// Where mirror-named objects live.
    var filesPrefix: String { "\(repositoryID)/files/" }

    /// Whether a name lies where this repository keeps file contents (not its catalog copies, not its marker, not
    /// another repository's folder): the only names `check` may call unreferenced or delete. Bytes are compared,
    /// not characters: a mirror name may go on with a combining mark, which `hasPrefix` would join to the `/`.
    func isObjectArea(_ name: String) -> Bool {
        name.utf8.starts(with: dataPrefix.utf8) || name.utf8.starts(with: filesPrefix.utf8)
    }

    /// The prefix under which catalog copies are listed.
    var catalogPrefix: String { "\(repositoryID)/catalog/" }

    /// Percent-escapes what the backend cannot hold, reversibly: `%`, `/`, control bytes, invalid UTF-8,
    /// forbidden characters, 4-byte UTF-8 where refused, and leading or trailing dots and spaces where refused.
    func escape(_ bytes: [UInt8]) -> String {
        var out = ""
        func hex(_ byte: UInt8) { out += String(format: "%%%02X", byte) }
        let scalars = Self.decodeLeniently(bytes)
        for (index, item) in scalars.enumerated() {
            switch item {
            case .invalid(let byte):
                hex(byte)
            case .scalar(let scalar, let raw):
                let isEdge = index == 0 || index == scalars.count - 1
                let edgeProblem =
                    !capabilities.allowsEdgeDotsAndSpaces && isEdge && (scalar == "." || scalar == " ")
                let forbidden =
                    scalar == "%" || scalar == "/" || scalar.value < 0x20 || scalar.value == 0x7f
                    || capabilities.forbiddenCharacters.contains(Character(scalar))
                    || (!capabilities.allowsFourByteUTF8 && raw.count == 4) || edgeProblem
                if forbidden { raw.forEach(hex) } else { out.unicodeScalars.append(scalar) }
            }
        }
        if out.isEmpty { out = "%" }
        return out
    }

    private enum Decoded {
        case scalar(Unicode.Scalar, [UInt8])
        case invalid(UInt8)
    }

    /// UTF-8 decoding that keeps invalid bytes as themselves instead of replacing them.
    private static func decodeLeniently(_ bytes: [UInt8]) -> [Decoded] {
        var result: [Decoded] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length = b < 0x80 ? 1 : b >> 5 == 0b110 ? 2 : b >> 4 == 0b1110 ? 3 : b >> 3 == 0b11110 ? 4 : 0
            if length > 0, i + length <= bytes.count,
                let s = String(validating: bytes[i..<i + length], as: UTF8.self),
                let scalar = s.unicodeScalars.first
            {
                result.append(.scalar(scalar, Array(bytes[i..<i + length])))
                i += length
            } else {
                result.append(.invalid(b))
                i += 1
            }
        }
        return result
    }

    static func randomHex(_ byteCount: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return hex((0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func timestamp(_ date: Date) -> String {
        UTCStamp.compact(date)
    }
}
