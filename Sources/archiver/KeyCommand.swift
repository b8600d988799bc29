import Age
import ArchiverKit
import ArgumentParser

/// `archiver key`: make and inspect age identities.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Generate an age identity or print the recipient of one.",
        subcommands: [Generate.self, Recipient.self, MACKey.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new identity in age-keygen's format (mode 0600) and print its recipient.",
            discussion: "Backing up needs only the recipient (age1…); restoring needs the identity. Keep the identity off the machine that runs backups.")

        @Option(name: .shortAndLong, help: "Where to write the identity; an existing file is never replaced.")
        var output: String

        func run() throws {
            let identity = X25519Identity.generate()
            try KeyFiles.writeIdentity(identity, to: output)
            Terminal.output(identity.recipient.description)
            Terminal.note("""
                Wrote the identity to \(output). Its recipient (public key) is printed above; put it under \
                `recipients:` in your config.
                Keep a copy of \(output) somewhere safe, away from this machine: without it nothing can be restored.
                """)
        }
    }

    struct Recipient: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the recipient (age1…) of each identity in a file.")

        @Argument(help: "An identity file (from `archiver key generate` or age-keygen).")
        var file: String

        func run() throws {
            for identity in try KeyFiles.identities(at: file) {
                Terminal.output(identity.recipient.description)
            }
        }
    }

    struct MACKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mac-key",
            abstract: "Derive the key that authenticates catalog copies and store it beside the catalog (0600).",
            discussion: "Run once where the identity lives; the daemon then needs only recipients and this key.")

        @OptionGroup var options: ConfigOptions

        @Option(name: .shortAndLong, help: "The identity file.")
        var identity: String

        func run() throws {
            let config = try options.load(identityNeeded: true)
            guard let first = try KeyFiles.identities(at: identity).first else { return }
            try CatalogCopies.writeMACKey(CatalogCopies.macKey(for: first), catalog: config.catalog)
            Terminal.note("Stored the catalog-copy key at \(CatalogCopies.macKeyPath(catalog: config.catalog)).")
        }
    }
}
