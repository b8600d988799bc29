import Foundation

/// A parsed JSON document, as Baidu's answers arrive: read field by field, because the same field is a number in
/// one answer and a string in another (`request_id`), and error envelopes differ between Baidu's hosts.
package enum JSONValue: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    /// Integers keep full 64-bit precision (`fs_id` does not fit a Double).
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    package init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !array.isAtEnd { items.append(try array.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var fields: [String: JSONValue] = [:]
            for key in object.allKeys { fields[key.stringValue] = try object.decode(JSONValue.self, forKey: key) }
            self = .object(fields)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? single.decode(UInt64.self) {
            self = .integer(Int64(bitPattern: value))
        } else if let value = try? single.decode(Double.self) {
            self = .double(value)
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    /// Parses JSON text; nil when it is not JSON.
    package static func parse(_ bytes: some Collection<UInt8>) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    package subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    /// The value as an integer: a JSON integer, a whole double, or digits in a string (Baidu mixes them).
    package var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .double(let value): return value.rounded() == value ? Int64(exactly: value) : nil
        case .string(let text): return Int64(text)
        case .bool(let value): return value ? 1 : 0
        default: return nil
        }
    }

    /// The value as text: strings as they are, numbers in decimal.
    package var string: String? {
        switch self {
        case .string(let text): return text
        case .integer(let value): return String(value)
        case .double(let value): return String(value)
        default: return nil
        }
    }

    package var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// JSON text of simple values for Baidu's form fields (`block_list`, `filelist`, `fsids`).
enum JSONText {
    /// `["a","b"]` with JSON string escaping.
    static func strings(_ values: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(values)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// `[1,2]`.
    static func integers(_ values: [Int64]) -> String {
        "[" + values.map(String.init).joined(separator: ",") + "]"
    }
}
