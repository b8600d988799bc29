import Foundation

/// Keeps secrets out of logs and error messages.
///
/// Baidu takes `access_token` in the query of every call, and the OAuth calls carry `refresh_token`,
/// `client_secret` and the device `code`; dlinks carry a `sign`. Every URL or text that may hold one passes through
/// `redact(_:)` before it is logged or put into an error.
enum BaiduRedaction {
    /// The query parameters whose values are secret.
    static let secretParameters = ["access_token", "refresh_token", "client_secret", "code", "sign"]

    /// What a secret value becomes.
    static let placeholder = "REDACTED"

    /// Replaces the value of every secret query parameter in `text`.
    ///
    /// A name counts only at the start of a query item (after `?`, `&`, `;`, whitespace, a quote, `(` or the text's
    /// start), so `user_code=` and `device_code=` stay readable while `code=` is hidden. The value runs to the next
    /// `&`, whitespace, `#`, quote or `)`. Scanned by hand: a regular expression would load ICU, about 2 MiB of
    /// resident memory, into a process that otherwise never needs it.
    /// - Parameter text: a URL, or any text that may contain URLs.
    /// - Returns: the text with `access_token=REDACTED` and the like.
    static func redact(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if i == 0 || startsItem(bytes[i - 1]), let name = secretName(in: bytes, at: i) {
                out.append(contentsOf: bytes[i..<i + name.count + 1])
                out.append(contentsOf: placeholder.utf8)
                i += name.count + 1
                while i < bytes.count, !endsValue(bytes[i]) { i += 1 }
                continue
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let names = secretParameters.map { Array($0.utf8) }

    /// The secret parameter name followed by `=` at `index`, if there is one.
    private static func secretName(in bytes: [UInt8], at index: Int) -> [UInt8]? {
        names.first { name in
            index + name.count < bytes.count && bytes[index + name.count] == UInt8(ascii: "=")
                && bytes[index..<index + name.count].elementsEqual(name)
        }
    }

    private static func startsItem(_ byte: UInt8) -> Bool {
        isSpace(byte) || "?&;\"'(".utf8.contains(byte)
    }

    private static func endsValue(_ byte: UInt8) -> Bool {
        isSpace(byte) || "&#\"')".utf8.contains(byte)
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}
