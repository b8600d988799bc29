import Foundation

/// A configured target, made into a backend and opened (its marker read).
public struct OpenedTarget: Sendable {
    /// The target's name and spec from the config.
    public var target: ArchiverConfig.Target
    /// The backend.
    public var backend: any RemoteBackend
    /// The repository marker read from it.
    public var marker: RepositoryMarker
}

/// Makes and opens the targets a config names.
public enum Targets {
    /// The targets selected by `--target NAME`, or all of them.
    /// - Throws: `ArchiverError(.usage)` for an unknown name, listing the known ones.
    public static func selected(_ config: ArchiverConfig, name: String?) throws -> [ArchiverConfig.Target] {
        guard let name else { return config.targets }
        guard let target = config.targets.first(where: { $0.name == name }) else {
            throw ArchiverError(
                .usage, "no target named '\(name)'; the config has \(config.targets.map(\.name).joined(separator: ", "))")
        }
        return [target]
    }

    /// Makes the backend for a target.
    public static func backend(for target: ArchiverConfig.Target, config: ArchiverConfig) throws -> any RemoteBackend {
        try BackendRegistry.make(spec: target.spec, context: config.backendContext())
    }

    /// Makes and opens a target.
    /// - Throws: `ArchiverError(.targetUnavailable)` when the disk is absent or the target not initialised.
    public static func open(_ target: ArchiverConfig.Target, config: ArchiverConfig) async throws -> OpenedTarget {
        let backend = try backend(for: target, config: config)
        let marker = try await backend.open()
        return OpenedTarget(target: target, backend: backend, marker: marker)
    }

    /// Initialises a target that holds no marker yet, or opens one that does.
    /// - Returns: the opened target and whether it was initialised now.
    public static func initialize(_ target: ArchiverConfig.Target, config: ArchiverConfig) async throws
        -> (OpenedTarget, created: Bool)
    {
        let backend = try backend(for: target, config: config)
        if let marker = try? await backend.open() {
            return (OpenedTarget(target: target, backend: backend, marker: marker), false)
        }
        let created = UTCStamp.iso8601(Date())
        try await backend.initialize(marker: RepositoryMarker(id: UUID().uuidString.lowercased(), created: created))
        let marker = try await backend.open()
        return (OpenedTarget(target: target, backend: backend, marker: marker), true)
    }
}
