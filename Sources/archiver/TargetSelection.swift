import ArchiverKit

/// Opens a target for a command that goes over several: an absent target (the USB disk unplugged) is skipped with a
/// notice when the config has several, so the others still run and it is caught up next time.
/// - Returns: the opened target, or nil when it was skipped.
/// - Throws: `ArchiverError` when it cannot be opened and is the only target, or for any other failure.
func openOrSkip(_ target: ArchiverConfig.Target, config: ArchiverConfig) async throws -> OpenedTarget? {
    do {
        return try await Targets.open(target, config: config)
    } catch let error as ArchiverError where error.code == .targetUnavailable && config.targets.count > 1 {
        Terminal.warning("skipping target \(target.name): \(error.message)")
        return nil
    }
}
