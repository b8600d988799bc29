import ArchiverKit

extension MockBackend {
    /// The operations a mock counts and can fail.
    public enum Operation: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
        /// `open()`.
        case open
        /// `initialize(marker:)`.
        case initialize = "init"
        /// `openWriter(for:size:digests:)`.
        case put
        /// `ObjectWriter.commit()`.
        case commit
        /// `ObjectWriter.write(_:)`, each call.
        case write
        /// `openReader(for:range:)`.
        case get
        /// `stat(_:)`.
        case stat
        /// `list(prefix:cursor:limit:)`.
        case list
        /// `delete(_:)`.
        case delete

        public var description: String { rawValue }
    }

    /// An injected failure: the `call`th call (1-based, counted per backend) of `operation` fails, and every later
    /// one too when `andLater` is set. Written `put:3` or `put:3+` in a spec.
    public struct Fault: Sendable, Hashable, CustomStringConvertible {
        /// The operation that fails.
        public var operation: Operation
        /// Which call fails, from 1.
        public var call: Int
        /// Whether every later call fails as well.
        public var andLater: Bool

        /// Creates a fault.
        public init(_ operation: Operation, call: Int, andLater: Bool = false) {
            self.operation = operation
            self.call = call
            self.andLater = andLater
        }

        /// Whether the `number`th call of `operation` fails.
        public func fails(_ operation: Operation, call number: Int) -> Bool {
            operation == self.operation && (number == call || (andLater && number > call))
        }

        public var description: String { "\(operation):\(call)\(andLater ? "+" : "")" }
    }

    /// What a mock simulates: faults, latency, corruption, a quota and the limits of a remote.
    ///
    /// Settable in code or from a spec's query string:
    /// `mock:/tmp/m?fail=put:3,get:1+&latency_ms=20&corrupt=1&quota=1000000&max_object_size=5000000`
    /// `&slice_size=4194304&max_slices=1024&digests_first=1&no_empty=1`.
    public struct Configuration: Sendable, Equatable {
        /// Injected failures.
        public var faults: [Fault]
        /// A pause before each operation (and each write).
        public var latency: Duration
        /// Flip one byte in the middle of the `corruptObject`th object committed (1-based), so reads return
        /// tampered bytes. Only a persisting mock stores bytes to tamper with.
        public var corruptObject: Int?
        /// Total bytes the mock stores (objects committed through it, plus writes in flight); a write beyond
        /// it fails with `.quota`.
        public var quota: Int64?
        /// Largest object stored.
        public var maxObjectSize: Int64?
        /// Upload slice size. With `digestsFirst` and no slice size, 4 MiB, as Baidu.
        public var sliceSize: Int?
        /// Most slices per object (with `sliceSize`, a second size limit).
        public var maxSlices: Int?
        /// Behave like Baidu: require `UploadDigests` when a writer opens, and check the bytes against them at commit.
        public var digestsFirst: Bool
        /// Whether zero-byte objects are stored.
        public var allowsEmptyObjects: Bool

        /// Baidu's default slice size, used when `digestsFirst` is set without a slice size.
        public static let defaultSliceSize = 4 * 1024 * 1024

        /// Creates a configuration; the defaults simulate nothing.
        public init(
            faults: [Fault] = [], latency: Duration = .zero, corruptObject: Int? = nil, quota: Int64? = nil,
            maxObjectSize: Int64? = nil, sliceSize: Int? = nil, maxSlices: Int? = nil, digestsFirst: Bool = false,
            allowsEmptyObjects: Bool = true
        ) {
            self.faults = faults
            self.latency = latency
            self.corruptObject = corruptObject
            self.quota = quota
            self.maxObjectSize = maxObjectSize
            self.sliceSize = sliceSize
            self.maxSlices = maxSlices
            self.digestsFirst = digestsFirst
            self.allowsEmptyObjects = allowsEmptyObjects
        }

        /// The slice size in effect.
        public var effectiveSliceSize: Int? { sliceSize ?? (digestsFirst ? Self.defaultSliceSize : nil) }

        /// The option names a query string may use.
        public static let optionNames = [
            "fail", "latency_ms", "corrupt", "quota", "max_object_size", "slice_size", "max_slices", "digests_first",
            "no_empty",
        ]

        /// Parses a spec's query string (the part after `?`).
        /// - Parameter query: `key=value` pairs separated by `&`; a flag without a value is set.
        /// - Throws: `ArchiverError(.usage)` naming the option that is unknown or malformed.
        public init(query: String) throws {
            self.init()
            for pair in query.split(separator: "&") {
                let key: Substring
                let value: Substring
                if let equals = pair.firstIndex(of: "=") {
                    key = pair[..<equals]
                    value = pair[pair.index(after: equals)...]
                } else {
                    key = pair
                    value = ""
                }
                switch key {
                case "fail":
                    faults += try value.split(separator: ",").map(Self.parseFault)
                case "latency_ms":
                    latency = .milliseconds(try Self.number(value, key, minimum: 0))
                case "corrupt":
                    corruptObject = Int(try Self.number(value, key, minimum: 1))
                case "quota":
                    quota = try Self.number(value, key, minimum: 0)
                case "max_object_size":
                    maxObjectSize = try Self.number(value, key, minimum: 0)
                case "slice_size":
                    sliceSize = Int(try Self.number(value, key, minimum: 1))
                case "max_slices":
                    maxSlices = Int(try Self.number(value, key, minimum: 1))
                case "digests_first":
                    digestsFirst = try Self.flag(value, key)
                case "no_empty":
                    allowsEmptyObjects = !(try Self.flag(value, key))
                default:
                    throw ArchiverError(
                        .usage,
                        "unknown mock option '\(key)': use \(Self.optionNames.joined(separator: ", "))")
                }
            }
        }

        /// The query string that parses back to this configuration (latency in whole milliseconds).
        public var query: String {
            var pairs: [String] = []
            if !faults.isEmpty { pairs.append("fail=" + faults.map(\.description).joined(separator: ",")) }
            if latency > .zero {
                let (seconds, attoseconds) = latency.components
                pairs.append("latency_ms=\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)")
            }
            if let corruptObject { pairs.append("corrupt=\(corruptObject)") }
            if let quota { pairs.append("quota=\(quota)") }
            if let maxObjectSize { pairs.append("max_object_size=\(maxObjectSize)") }
            if let sliceSize { pairs.append("slice_size=\(sliceSize)") }
            if let maxSlices { pairs.append("max_slices=\(maxSlices)") }
            if digestsFirst { pairs.append("digests_first=1") }
            if !allowsEmptyObjects { pairs.append("no_empty=1") }
            return pairs.joined(separator: "&")
        }

        private static func parseFault(_ text: Substring) throws -> Fault {
            let usage = ArchiverError(
                .usage,
                "mock option fail=\(text) is malformed: write OPERATION:N or OPERATION:N+ with OPERATION one of "
                    + Operation.allCases.map(\.rawValue).joined(separator: ", "))
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let operation = Operation(rawValue: String(parts[0])) else { throw usage }
            var count = parts[1]
            let andLater = count.hasSuffix("+")
            if andLater { count = count.dropLast() }
            guard let call = Int(count), call >= 1 else { throw usage }
            return Fault(operation, call: call, andLater: andLater)
        }

        private static func number(_ text: Substring, _ key: Substring, minimum: Int64) throws -> Int64 {
            guard let value = Int64(text), value >= minimum else {
                throw ArchiverError(
                    .usage, "mock option \(key)=\(text) is malformed: write a whole number of at least \(minimum)")
            }
            return value
        }

        private static func flag(_ text: Substring, _ key: Substring) throws -> Bool {
            switch text.lowercased() {
            case "", "1", "true", "yes": return true
            case "0", "false", "no": return false
            default: throw ArchiverError(.usage, "mock option \(key)=\(text) is malformed: write 1 or 0")
            }
        }
    }
}
