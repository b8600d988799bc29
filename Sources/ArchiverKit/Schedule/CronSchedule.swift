/// A 5-field cron schedule (minute hour day-of-month month day-of-week) or one of the usual macros, parsed once and
/// asked for the next run time.
///
/// The syntax is Vixie cron's: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n`, `a-b/n` (and `a/n`, from `a`
/// to the field's end), month names `jan`-`dec` and weekday names `sun`-`sat` in any case, 7 as a second Sunday,
/// and `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. When both day fields are
/// restricted a day matches if either does; a day field written with a leading `*` (`*`, `*/2`) counts as
/// unrestricted for that rule, as in Vixie cron and cronie. See docs/schedule.md.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    /// The expression as given, trimmed, with runs of blanks collapsed and a macro lowercased.
    public let expression: String
    /// The minutes of the hour, 0-59.
    package let minute: CronField
    /// The hours of the day, 0-23.
    package let hour: CronField
    /// The days of the month, 1-31.
    package let dayOfMonth: CronField
    /// The months, 1-12.
    package let month: CronField
    /// The days of the week, 0-6 from Sunday.
    package let dayOfWeek: CronField

    /// The macros and the five fields each stands for.
    public static let macros: [(name: String, fields: String)] = [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ]

    /// What an expression may look like, for messages.
    static let forms =
        "use five cron fields (minute hour day-of-month month day-of-week, e.g. \"0 21 * * *\") or "
        + macros.map(\.name).joined(separator: ", ")

    /// Parses an expression.
    /// - Parameter expression: five fields or a macro, e.g. `0 21 * * *`, `*/15 8-18 * * mon-fri`, `@daily`.
    /// - Throws: `ArchiverError(.usage)` naming the field, the token at fault and what the field allows (`schedule
    ///   '0 0 32 * *' is not valid: day-of-month: 32 is out of range 1-31`), or saying that the expression never
    ///   runs (`0 0 30 2 *`).
    public init(_ expression: String) throws {
        do throws(ValueProblem) {
            self = try Self(parsing: expression)
        } catch {
            throw ArchiverError(.usage, "schedule '\(ConfigReporter.shown(expression))' \(error.text)")
        }
    }

    /// Parses an expression, reporting a problem as the tail of a config message.
    /// - Parameter text: five fields or a macro.
    /// - Throws: `ValueProblem` whose text starts with a verb (`has 6 fields, not 5…`, `is not valid: minute: …`,
    ///   `never runs: …`).
    package init(parsing text: String) throws(ValueProblem) {
        var fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.count == 1, fields[0].hasPrefix("@") {
            let name = fields[0].lowercased()
            guard let expansion = Self.macros.first(where: { $0.name == name })?.fields else {
                let reboot = name == "@reboot" ? " (the daemon always runs once when it starts)" : ""
                throw ValueProblem("is not a known macro\(reboot): \(Self.forms)")
            }
            expression = name
            fields = expansion.split(separator: " ")
        } else {
            guard fields.count == 5 else {
                let seconds = fields.count == 6 ? " (a seconds field is not supported)" : ""
                throw ValueProblem("has \(fields.count) fields, not 5\(seconds): \(Self.forms)")
            }
            expression = fields.joined(separator: " ")
        }
        do throws(ValueProblem) {
            minute = try CronField(fields[0], kind: .minute)
            hour = try CronField(fields[1], kind: .hour)
            dayOfMonth = try CronField(fields[2], kind: .dayOfMonth)
            month = try CronField(fields[3], kind: .month)
            dayOfWeek = try CronField(fields[4], kind: .dayOfWeek)
        } catch {
            throw ValueProblem("is not valid: \(error.text)")
        }
        if let reason = neverRunsReason { throw ValueProblem("never runs: \(reason)") }
    }

    /// Parses an expression known to be valid (a constant of this program).
    package init(constant text: String) {
        do throws(ValueProblem) {
            self = try Self(parsing: text)
        } catch {
            preconditionFailure("the built-in schedule '\(text)' \(error.text)")
        }
    }

    public var description: String { expression }

    /// True when the day matches both day fields by Vixie cron's rule: if either field starts with `*`, both must
    /// match (the starred one usually matches every day); otherwise either may.
    /// - Parameters:
    ///   - day: the day of the month.
    ///   - weekday: its day of the week, 0 for Sunday.
    func dayMatches(day: Int, weekday: Int) -> Bool {
        let inMonth = dayOfMonth.contains(day)
        let inWeek = dayOfWeek.contains(weekday)
        if dayOfMonth.isStar || dayOfWeek.isStar { return inMonth && inWeek }
        return inMonth || inWeek
    }

    /// Why no date ever matches, or nil when some date does.
    ///
    /// With both day fields restricted, the weekday alone matches some day of every month. Otherwise both must
    /// match, and every date of the calendar falls on every weekday within 28 years (February 29 included), so
    /// the expression runs if any allowed month has the smallest allowed day of the month.
    private var neverRunsReason: String? {
        if !dayOfMonth.isStar && !dayOfWeek.isStar { return nil }
        guard let firstDay = dayOfMonth.first(atLeast: 1) else { return "day-of-month allows no day" }
        let months = month.values
        guard months.allSatisfy({ LocalTime.maxDaysIn(month: $0) < firstDay }) else { return nil }
        let names = months.map { CronField.Kind.month.names[$0 - 1] }.joined(separator: ", ")
        return "day-of-month \(firstDay) does not occur in \(names)"
    }
}
