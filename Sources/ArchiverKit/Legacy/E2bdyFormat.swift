/// The two formats encrypt2bdy wrote under the `.e2bdy` suffix, told apart by a file's first bytes, and the
/// errors their decoders share. Each error names the file and what to do about it.
public enum E2bdyFormat: Sendable, Equatable {
    /// Until mid-2023: one Fernet token per file (base64 text), keyed by `encrypt.key`.
    case fernet
    /// From December 2023: an AES Crypt version 2 stream (pyAesCrypt), keyed by the passphrase `USER_PASSKEY`.
    case aesCrypt

    /// The format's name in messages.
    public var name: String {
        switch self {
        case .fernet: "Fernet token (made before December 2023, key file encrypt.key)"
        case .aesCrypt: "AES Crypt file (made from December 2023 on, passphrase USER_PASSKEY)"
        }
    }

    /// The `archiver decrypt` option that reads this format.
    public var option: String {
        switch self {
        case .fernet: "--fernet-key encrypt.key"
        case .aesCrypt: "--aescrypt-passphrase-file FILE"
        }
    }

    /// How every Fernet token of our era starts: version 0x80 and a big-endian timestamp whose top bytes stay zero
    /// for centuries, in base64.
    static let fernetPrefix = Array("gAAAA".utf8)

    /// Recognises a format from a file's first bytes (five are enough).
    /// - Parameter prefix: the first bytes of the file.
    /// - Returns: the format, or nil when it is neither.
    public static func sniff(_ prefix: some Collection<UInt8>) -> E2bdyFormat? {
        if prefix.starts(with: Array("AES".utf8)) { return .aesCrypt }
        if prefix.starts(with: fernetPrefix) { return .fernet }
        return nil
    }

    /// The file is not in this format; points to the right option when it is in the other one.
    static func notThisFormat(_ expected: E2bdyFormat, file: String, prefix: some Collection<UInt8>) -> ArchiverError {
        var message = "not an encrypt2bdy \(expected.name)"
        if let other = sniff(prefix), other != expected {
            message +=
                "; it looks like an encrypt2bdy \(other.name): decrypt it with `archiver decrypt \(other.option)`"
        } else {
            message += "; is it an .e2bdy file? (archiver's own objects are decrypted with -i KEY)"
        }
        return ArchiverError(.usage, message, subject: file)
    }

    /// The file ends early.
    static func truncated(_ format: E2bdyFormat, file: String, _ detail: String) -> ArchiverError {
        ArchiverError(
            .integrity,
            "the \(format.name) is truncated (\(detail)); download it again. Nothing was written", subject: file)
    }

    /// The file's MAC does not match its content.
    static func tampered(_ format: E2bdyFormat, file: String, _ detail: String) -> ArchiverError {
        ArchiverError(
            .integrity,
            "the \(format.name) failed authentication: \(detail); download it again. Nothing was written",
            subject: file)
    }
}
