public import Foundation

extension ArchiverConfig {
    /// The zone `schedule` is read in: the `timezone:` key, else `TZ`, else the system's zone.
    /// - Parameter environment: the process environment, for `TZ`.
    /// - Returns: the zone and where it came from, with a note when `TZ` was set but unknown.
    public func scheduleZone(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> ScheduleZone {
        ScheduleZone.resolve(configured: timeZone, environment: environment)
    }

}
