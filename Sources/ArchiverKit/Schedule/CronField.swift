/// One of the five fields of a cron expression, parsed into the set of values it allows.
///
/// Values are kept as bits of a `UInt64` (every field's values fit below 64), so matching is one mask test and the
/// next allowed value is a count of trailing zeros.
package struct CronField: Sendable, Hashable {
    /// Which of the five fields this is.
    package enum Kind: Int, Sendable, CaseIterable {
        case minute, hour, dayOfMonth, month, dayOfWeek

        /// The name used in messages and docs.
        package var name: String {
            switch self {
            case .minute: "minute"
            case .hour: "hour"
            case .dayOfMonth: "day-of-month"
            case .month: "month"
            case .dayOfWeek: "day-of-week"
            }
        }

        /// The values a number may take in this field; day-of-week allows 7 as a second Sunday.
        package var range: ClosedRange<Int> {
            switch self {
            case .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            case .dayOfWeek: 0...7
            }
        }

        /// The three-letter names this field accepts, the first standing for `range.lowerBound`.
        var names: [String] {
            switch self {
            case .month: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            case .dayOfWeek: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
            default: []
            }
        }
    }

    /// The field.
    package let kind: Kind
    /// The allowed values, bit `n` for value `n`; a day-of-week 7 is stored as 0.
    package let bits: UInt64
    /// True when the text starts with `*` (`*`, `*/2`): Vixie cron's rule for combining the two day fields
    /// looks at this, not at which values are allowed.
    package let isStar: Bool

    /// The allowed values in ascending order.
    package var values: [Int] { kind.range.filter { contains($0) } }

    /// True when `value` is allowed.
    /// - Parameter value: a value of this field (a day-of-week in 0...6).
    package func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0
    }

    /// The smallest allowed value that is at least `value`, or nil when there is none.
    /// - Parameter value: where to start looking.
    package func first(atLeast value: Int) -> Int? {
        guard value < 64 else { return nil }
        let rest = bits & (UInt64.max << UInt64(max(value, 0)))
        return rest == 0 ? nil : rest.trailingZeroBitCount
    }

    /// Parses one field: a comma-separated list of `*`, `N`, `A-B`, each optionally followed by `/STEP`; `N/STEP`
    /// means `N` to the field's end. Month and weekday names may stand for numbers.
    /// - Parameters:
    ///   - text: the field.
    ///   - kind: which field it is.
    /// - Throws: `ValueProblem` whose text names the field, the token at fault and what is allowed.
    package init(_ text: Substring, kind: Kind) throws(ValueProblem) {
        self.kind = kind
        self.isStar = text.hasPrefix("*")
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            bits |= try Self.parseItem(item, kind: kind)
        }
        if kind == .dayOfWeek, bits & (1 << 7) != 0 {
            bits = bits & ~(1 << 7) | 1
        }
        self.bits = bits
    }

    private static func parseItem(_ item: Substring, kind: Kind) throws(ValueProblem) -> UInt64 {
        let field = kind.name
        let range = kind.range
        guard !item.isEmpty else {
            throw ValueProblem("\(field): a list has an empty item (two commas, or a comma at an end)")
        }
        let parts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw ValueProblem("\(field): '\(item)' has more than one '/'") }
        var step = 1
        if parts.count == 2 {
            let span = range.count - (kind == .dayOfWeek ? 1 : 0)
            guard let n = Int(parts[1]), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw ValueProblem("\(field): the step in '\(item)' must be a whole number")
            }
            guard n >= 1, n <= span else {
                throw ValueProblem("\(field): the step \(n) in '\(item)' is out of range 1-\(span)")
            }
            step = n
        }
        let base = parts[0]
        let low: Int
        let high: Int
        if base == "*" {
            (low, high) = (range.lowerBound, range.upperBound)
        } else {
            let ends = base.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2 else { throw ValueProblem("\(field): '\(item)' has more than one '-'") }
            low = try value(ends[0], kind: kind, item: item, isRangeEnd: false)
            if ends.count == 2 {
                high = try value(ends[1], kind: kind, item: item, isRangeEnd: true)
                guard low <= high else {
                    throw ValueProblem(
                        "\(field): the range '\(base)' is reversed; write the smaller value first (ranges do not "
                            + "wrap; use a list such as 22-23,0-2)")
                }
            } else {
                // `N/STEP` runs to the field's end, as in cronie and most other crons; a bare `N` is just N.
                high = parts.count == 2 ? range.upperBound : low
            }
        }
        var bits: UInt64 = 0
        for v in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(v) }
        return bits
    }

    /// One number or name of a field.
    private static func value(
        _ token: Substring, kind: Kind, item: Substring, isRangeEnd: Bool
    ) throws(ValueProblem) -> Int {
        let field = kind.name
        let range = kind.range
        if let n = Int(token), token.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard range.contains(n) else {
                throw ValueProblem("\(field): \(n) is out of range \(range.lowerBound)-\(range.upperBound)")
            }
            return n
        }
        if let index = kind.names.firstIndex(of: token.lowercased()) {
            // `mon-sun` reads naturally; Sunday as the end of a range is 7, so it is not a reversed range.
            if kind == .dayOfWeek, index == 0, isRangeEnd { return 7 }
            return range.lowerBound + index
        }
        if token.isEmpty {
            throw ValueProblem("\(field): '\(item)' is missing a value before or after '-'")
        }
        let quartz = token.uppercased()
        if quartz.contains(where: { "LW#?".contains($0) }),
            quartz.allSatisfy({ $0.isASCII && ($0.isNumber || "LW#?".contains($0)) })
        {
            throw ValueProblem("\(field): '\(token)' uses L, W, # or ?, which this cron does not support")
        }
        var allowed = "a number in \(range.lowerBound)-\(range.upperBound)"
        if let first = kind.names.first, let last = kind.names.last { allowed += " or a name \(first)-\(last)" }
        if token == "*" { allowed += " ('*' stands alone or before a step: * or */N)" }
        throw ValueProblem("\(field): '\(token)' is not \(allowed)")
    }
}
