import ArchiverKit

extension DecryptCommand {
    /// Decrypts one of encrypt2bdy's `.e2bdy` files (Fernet or AES Crypt) with the same output guarantees as an
    /// age file: written beside the output and renamed into place only after the file's MAC checked out.
    func decryptE2bdy() throws {
        guard (fernetKey == nil) != (aescryptPassphraseFile == nil) else {
            throw ArchiverError(
                .usage,
                "--fernet-key and --aescrypt-passphrase-file exclude each other: a .e2bdy file is one or the other")
        }
        guard identity.isEmpty, passphraseFile == nil, !gunzip, !zstd, maxSize == nil else {
            throw ArchiverError(
                .usage,
                "an .e2bdy file takes only --fernet-key or --aescrypt-passphrase-file (not -i, --passphrase-file, "
                    + "--gunzip, --zstd or --max-size)")
        }
        let label = input == "-" ? "stdin" : input
        if let fernetKey {
            let key = try FernetKey.read(fernetKey)
            try decode { source, sink in try FernetDecoder.decode(from: source, to: sink, key: key, file: label) }
        } else if let aescryptPassphraseFile {
            let passphrase = try readPassphrase(aescryptPassphraseFile)
            guard !passphrase.isEmpty else {
                throw ArchiverError(.usage, "the passphrase file is empty", subject: aescryptPassphraseFile)
            }
            try decode { source, sink in
                try AESCryptDecoder.decode(from: source, to: sink, passphrase: passphrase, file: label)
            }
        }
    }
}
