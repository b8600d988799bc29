import Age
import ArchiverKit
import ArgumentParser
import Foundation

/// `archiver init`: writes a starter config if there is none, prepares the catalog and every target.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Prepare the catalog and the targets (writes a commented config first if FILE does not exist).",
        discussion: """
            A target gets a marker with a new repository id; a target that already has one is left as it is. \
            With --identity-out a new identity is written there (mode 0600): it belongs off this machine. With an \
            identity (--identity-out, --identity or `identity:`), the key that authenticates catalog copies is \
            derived and stored beside the catalog.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "For a new config: the target, e.g. local:/mnt/usb/archive.")
    var backend: String?

    @Option(name: .customLong("source"), help: "For a new config: LOCAL=REMOTE, e.g. /hdd/photos=photos. Repeatable.")
    var sources: [String] = []

    @Option(name: .customLong("recipient"), help: "For a new config: an age recipient. Repeatable.")
    var recipients: [String] = []

    @Option(help: "Write a new identity here (never over an existing file) and use its recipient.")
    var identityOut: String?

    @Option(help: "An existing identity file, to derive the catalog-copy key from.")
    var identity: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let path = options.config ?? environment["ARCHIVER_CONFIG"] else {
            throw ArchiverError(.usage, "pass --config FILE (the config to create or use)")
        }
        var newIdentity: X25519Identity?
        if let identityOut {
            let generated = X25519Identity.generate()
            try KeyFiles.writeIdentity(generated, to: identityOut)
            newIdentity = generated
            Terminal.note("Wrote a new identity to \(identityOut). Keep it, and a copy of it, off this machine: without it nothing can be restored.")
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard let backend, !sources.isEmpty else {
                throw ArchiverError(.usage, "\(path) does not exist; to write one, pass --backend SPEC and --source LOCAL=REMOTE")
            }
            let pairs = try sources.map { text -> (local: String, remote: String) in
                guard let eq = text.firstIndex(of: "=") else {
                    throw ArchiverError(.usage, "--source '\(text)' must be LOCAL=REMOTE, e.g. /hdd/photos=photos")
                }
                return (String(text[..<eq]), String(text[text.index(after: eq)...]))
            }
            let all = recipients + (newIdentity.map { [$0.recipient.description] } ?? [])
            let catalog = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("catalog.sqlite")
            try ConfigLoader.writeStarter(to: path, backend: backend, recipients: all, catalog: catalog, sources: pairs)
            Terminal.note("Wrote \(path) (mode 0600); read it and adjust.")
        }
        let config = try options.load(identityNeeded: true)
        let catalog = try Catalog(path: config.catalog)
        for target in config.targets {
            let (opened, created) = try await Targets.initialize(target, config: config)
            try catalog.registerRepository(id: opened.marker.id, spec: target.spec)
            Terminal.note("\(created ? "Initialised" : "Found") target \(target.name) (\(target.spec)): repository \(opened.marker.id)")
        }
        let identityFile = identity ?? config.identity
        let source = try newIdentity ?? identityFile.flatMap { try KeyFiles.identities(at: $0).first }
        if let source {
            try CatalogCopies.writeMACKey(CatalogCopies.macKey(for: source), catalog: config.catalog)
            Terminal.note("Stored the catalog-copy key at \(CatalogCopies.macKeyPath(catalog: config.catalog)).")
        } else if try CatalogCopies.readMACKey(catalog: config.catalog) == nil {
            Terminal.warning("""
                no identity given, so catalog copies cannot be authenticated and none will be stored. Where the \
                identity lives, run `archiver key mac-key --identity key.txt --config \(path)` once.
                """)
        }
        Terminal.note("Catalog: \(config.catalog)")
    }
}
