import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `application/x-www-form-urlencoded` text and query strings, decoded exactly once, `+` meaning space
/// (what Baidu's servers do: a client that encodes twice, or leaves `+` for a plus, sees the difference).
enum FormData {
    /// The fields of a query string or form body; the first occurrence of a name wins.
    /// Returns nil when an escape is malformed or the result is not UTF-8.
    static func decode(_ text: String) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = unescape(parts[0]), let value = unescape(parts.count > 1 ? parts[1] : "") else {
                return nil
            }
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    private static func unescape(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(bytes: bytes, encoding: .utf8)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The parts of a `multipart/form-data` body, located without copying their content.
struct Multipart {
    struct Part {
        var name: String
        var filename: String?
        var content: Range<Int>
    }

    var parts: [Part]

    /// The boundary named by a Content-Type header, or nil when it is not multipart/form-data.
    static func boundary(contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else {
                continue
            }
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            let unquoted =
                value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2
                ? String(value.dropFirst().dropLast()) : value
            return unquoted.isEmpty ? nil : unquoted
        }
        return nil
    }

    /// Splits `body` at `boundary`; nil when the framing is broken.
    init?(body: Data, boundary: String) {
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n--\(boundary)".utf8)
        let headerEnd = Array("\r\n\r\n".utf8)
        guard var position = Self.find(delimiter, in: body, from: 0) else { return nil }
        position += delimiter.count
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" closes the body, "\r\n" starts a part.
            guard position + 2 <= body.count else { return nil }
            let next = body[body.startIndex + position..<body.startIndex + position + 2]
            if next.elementsEqual("--".utf8) { break }
            guard next.elementsEqual("\r\n".utf8) else { return nil }
            let headersStart = position + 2
            guard let headersEnd = Self.find(headerEnd, in: body, from: headersStart) else { return nil }
            let contentStart = headersEnd + headerEnd.count
            guard let contentEnd = Self.find(separator, in: body, from: contentStart) else { return nil }
            let headerText = String(
                decoding: body[body.startIndex + headersStart..<body.startIndex + headersEnd], as: UTF8.self)
            let (name, filename) = Self.disposition(headerText)
            parts.append(Part(name: name ?? "", filename: filename, content: contentStart..<contentEnd))
            position = contentEnd + separator.count
        }
        self.parts = parts
    }

    /// The first part called `name`.
    func part(named name: String) -> Part? {
        parts.first { $0.name == name }
    }

    private static func disposition(_ headers: String) -> (name: String?, filename: String?) {
        var name: String?
        var filename: String?
        for line in headers.components(separatedBy: "\r\n")
        where line.lowercased().hasPrefix("content-disposition:") {
            for parameter in line.split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                let key = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
                var value = pair[1].trimmingCharacters(in: .whitespaces)
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast())
                }
                if key == "name" { name = value } else if key == "filename" { filename = value }
            }
        }
        return (name, filename)
    }

    /// The offset (from the start of `data`) of the first `needle` at or after `start`.
    private static func find(_ needle: [UInt8], in data: Data, from start: Int) -> Int? {
        guard start <= data.count else { return nil }
        return data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Int? in
            guard let base = buffer.baseAddress else { return nil }
            // memchr to each candidate first byte, then memcmp: fast even in debug builds (memmem is not
            // visible to Swift on Glibc).
            return needle.withUnsafeBytes { pattern -> Int? in
                guard let patternBase = pattern.baseAddress, let first = needle.first else { return nil }
                var offset = start
                while offset + needle.count <= buffer.count {
                    guard let hit = memchr(base + offset, Int32(first), buffer.count - offset - needle.count + 1)
                    else { return nil }
                    let position = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + position, patternBase, needle.count) == 0 { return position }
                    offset = position + 1
                }
                return nil
            }
        }
    }
}
