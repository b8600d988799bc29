import ArchiverKit

/// The storage backends that ship with archiver, registered with the core at start-up.
///
/// The core names no backend: the program calls `registerAll()` once, before the first
/// `BackendRegistry.make(spec:context:)`, the way swift-log handlers are bootstrapped.
public enum Backends {
    /// The schemes `registerAll()` registers.
    public static let schemes = [LocalBackend.scheme, MockBackend.scheme, BaiduBackend.scheme]

    /// Registers `local:`, `mock:` and `baidu:`. Calling it again replaces the factories with identical ones.
    public static func registerAll() {
        BackendRegistry.register(scheme: LocalBackend.scheme) { argument, context in
            try LocalBackend(argument: argument, context: context)
        }
        BackendRegistry.register(scheme: MockBackend.scheme) { argument, context in
            try MockBackend(argument: argument, context: context)
        }
        BackendRegistry.register(scheme: BaiduBackend.scheme) { argument, context in
            try BaiduBackend(argument: argument, context: context)
        }
    }
}
