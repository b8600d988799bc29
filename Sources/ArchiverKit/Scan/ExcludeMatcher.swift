/// Exclude patterns, gitignore-like.
///
/// - A pattern without "/" matches a name at any depth ("*.tmp", "Thumbs.db").
/// - A pattern with "/" matches the path relative to the source root ("photos/cache", "**/cache/**", "a/*/b"); a
///   leading "/" only anchors ("/tmp" is "tmp" at the root, not deeper).
/// - "*" matches any run of characters and "?" exactly one, neither crossing "/"; "[abc]", "[a-z]" and "[!abc]"
///   (or "[^abc]") are classes; "\" makes the next character literal.
/// - "**" as a whole component matches any number of components: "**/x" matches "x" at any depth, "a/**/b"
///   matches "a/b" and "a/x/y/b", and a trailing "/**" matches everything *inside* a directory but not the
///   directory itself (as in gitignore).
/// - A trailing "/" matches directories only ("build/").
/// - A path is excluded when it, or any directory above it, matches.
///
/// Matching is on bytes: a pattern is the UTF-8 of the string given, nothing is normalised or case-folded, so a
/// pattern written in NFC does not match a name stored in NFD. "?" and classes step over one UTF-8 character
/// (or over one byte where the name is not valid UTF-8). Negation ("!pattern") is refused, not ignored.
public struct ExcludeMatcher: Sendable {
    /// Clutter NAS boxes and the machines that use them leave in shared folders: caches, recycle bins,
    /// snapshot views and index databases that are rebuilt on their own and would only bloat a backup.
    ///
    /// - Synology: "@eaDir/" (thumbnails and extended attributes), "#recycle/", "#snapshot/" (read-only views of
    ///   Btrfs snapshots; backing them up would copy the share once per snapshot).
    /// - QNAP: "@Recycle/", "@Recently-Snapshot/", ".@__thumb/".
    /// - Linux: ".Trash-*/" (per-user trash on shared disks), "lost+found/".
    /// - macOS: ".DS_Store", ".AppleDouble/", ".AppleDB/", ".AppleDesktop/" (netatalk), ".Trashes/",
    ///   ".Spotlight-V100/", ".fseventsd/", ".TemporaryItems/".
    /// - Windows: "Thumbs.db", "$RECYCLE.BIN/", "System Volume Information/".
    ///
    /// Left out on purpose, because they can hold data a person wants back: "desktop.ini" (folder icons and
    /// names), "._*" (AppleDouble resource forks), "*.partial" and other temporary-file suffixes (a file that
    /// changes while read is caught by change detection instead).
    public static let defaultPatterns: [String] = [
        "@eaDir/", "#recycle/", "#snapshot/",
        "@Recycle/", "@Recently-Snapshot/", ".@__thumb/",
        ".Trash-*/", "lost+found/",
        ".DS_Store", ".AppleDouble/", ".AppleDB/", ".AppleDesktop/", ".Trashes/", ".Spotlight-V100/", ".fseventsd/",
        ".TemporaryItems/",
        "Thumbs.db", "$RECYCLE.BIN/", "System Volume Information/",
    ]

    /// The patterns in effect, defaults first when they were included.
    public let patterns: [String]
    private let compiled: [CompiledPattern]

    /// Compiles patterns.
    /// - Parameters:
    ///   - patterns: exclude patterns, as described on the type.
    ///   - includeDefaults: add `defaultPatterns` in front of `patterns`.
    /// - Throws: `ArchiverError(.usage)` naming the first pattern that cannot be compiled and why.
    public init(patterns: [String], includeDefaults: Bool = true) throws {
        let all = (includeDefaults ? Self.defaultPatterns : []) + patterns
        self.patterns = all
        compiled = try all.map { pattern in
            do {
                return try CompiledPattern(pattern)
            } catch let problem as PatternProblem {
                throw ArchiverError(.usage, "exclude pattern '\(pattern)' is not valid: \(problem.reason)")
            }
        }
    }

    /// Whether a path is excluded.
    /// - Parameters:
    ///   - relativePath: the path relative to the source root, components separated by "/".
    ///   - isDirectory: whether the path itself is a directory (directories above it are directories anyway).
    /// - Returns: true when the path or any directory above it matches a pattern; false for the root (`[]`).
    public func isExcluded(relativePath: [UInt8], isDirectory: Bool) -> Bool {
        let components = relativePath.split(separator: BytePath.separator)
        for end in components.indices {
            let last = end == components.count - 1
            if matches(components[...end], isDirectory: last ? isDirectory : true) { return true }
        }
        return false
    }

    /// Whether the path itself matches, without looking at the directories above it.
    ///
    /// The scanner uses this: it never descends into an excluded directory, so the directories above an entry it
    /// lists are known not to match, and checking them again per entry would be wasted work.
    func matches(_ components: ArraySlice<ArraySlice<UInt8>>, isDirectory: Bool) -> Bool {
        guard !components.isEmpty else { return false }
        return compiled.contains { $0.matches(components, isDirectory: isDirectory) }
    }
}

/// Why a pattern was refused.
private struct PatternProblem: Error {
    var reason: String
}

/// A pattern split into components, each compiled to tokens.
private struct CompiledPattern: Sendable {
    enum Component: Sendable {
        /// "**": any number of whole components.
        case anyComponents
        case glob([Token])
    }

    enum Token: Sendable, Equatable {
        case byte(UInt8)
        /// "?": one character.
        case one
        /// "*": any run of characters within a component.
        case star
        case characterClass(CharacterClass)
    }

    struct CharacterClass: Sendable, Equatable {
        var negated: Bool
        var ranges: [ClosedRange<UInt32>]

        /// Whether a character is in the class; `scalar` is nil for a byte that is not valid UTF-8, which no
        /// pattern (a Swift string) can spell, so only a negated class takes it.
        func contains(_ scalar: UInt32?) -> Bool {
            guard let scalar else { return negated }
            return ranges.contains { $0.contains(scalar) } != negated
        }
    }

    let components: [Component]
    let directoryOnly: Bool
    /// A single literal-or-glob component matched against the last path component only.
    let basenameOnly: Bool

    init(_ pattern: String) throws {
        var bytes = Array(pattern.utf8)
        guard !bytes.isEmpty else { throw PatternProblem(reason: "it is empty") }
        guard !bytes.contains(0) else { throw PatternProblem(reason: "it contains a NUL character") }
        if bytes.first == UInt8(ascii: "!") {
            throw PatternProblem(reason: "negation ('!') is not supported; write '\\!' for a name starting with '!'")
        }
        directoryOnly = bytes.last == BytePath.separator
        if directoryOnly { bytes.removeLast() }
        let anchored = bytes.contains(BytePath.separator)
        if bytes.first == BytePath.separator { bytes.removeFirst() }
        guard !bytes.isEmpty else { throw PatternProblem(reason: "it names no file or folder") }

        var components: [Component] = []
        for part in bytes.split(separator: BytePath.separator, omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw PatternProblem(reason: "it has an empty component ('//')") }
            if part.elementsEqual(".".utf8) || part.elementsEqual("..".utf8) {
                throw PatternProblem(reason: "'.' and '..' never occur in paths relative to the source root")
            }
            if part.elementsEqual("**".utf8) {
                components.append(.anyComponents)
            } else {
                components.append(.glob(try Self.tokens(part)))
            }
        }
        if anchored {
            basenameOnly = false
        } else if case .glob = components[0] {
            basenameOnly = true
        } else {
            // A lone "**" without "/": gitignore reads it as "everything", which the anchored form gives.
            basenameOnly = false
        }
        self.components = components
    }

    private static func tokens(_ part: ArraySlice<UInt8>) throws -> [Token] {
        var tokens: [Token] = []
        var index = part.startIndex
        while index < part.endIndex {
            let byte = part[index]
            switch byte {
            case UInt8(ascii: "\\"):
                index += 1
                guard index < part.endIndex else {
                    throw PatternProblem(reason: "it ends with '\\', which escapes nothing")
                }
                tokens.append(.byte(part[index]))
                index += 1
            case UInt8(ascii: "*"):
                if tokens.last == .star {
                    throw PatternProblem(reason: "'**' must be a whole path component, like 'a/**/b'")
                }
                tokens.append(.star)
                index += 1
            case UInt8(ascii: "?"):
                tokens.append(.one)
                index += 1
            case UInt8(ascii: "["):
                let (characterClass, next) = try parseClass(part, from: index)
                tokens.append(.characterClass(characterClass))
                index = next
            default:
                tokens.append(.byte(byte))
                index += 1
            }
        }
        return tokens
    }

    /// Parses "[...]" starting at the "[", returning the class and the index after the closing "]".
    private static func parseClass(
        _ part: ArraySlice<UInt8>, from open: Int
    ) throws -> (CharacterClass, Int) {
        let unterminated = PatternProblem(reason: "a '[' class is not closed with ']'")
        var index = open + 1
        var negated = false
        if index < part.endIndex, part[index] == UInt8(ascii: "!") || part[index] == UInt8(ascii: "^") {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        // Reads one member character (a whole UTF-8 scalar, or an escaped one).
        func member() throws -> UInt32 {
            if part[index] == UInt8(ascii: "\\") {
                index += 1
                guard index < part.endIndex else { throw unterminated }
            } else if part[index] == UInt8(ascii: "["), index + 1 < part.endIndex,
                [UInt8(ascii: ":"), UInt8(ascii: "="), UInt8(ascii: ".")].contains(part[index + 1])
            {
                throw PatternProblem(reason: "POSIX classes like '[[:alpha:]]' are not supported")
            }
            let (scalar, length) = BytePath.decodeScalar(part, at: index)
            index += length
            // Patterns come from Swift strings, so they are valid UTF-8; a malformed byte cannot appear.
            return scalar ?? 0xFFFD
        }
        while true {
            guard index < part.endIndex else { throw unterminated }
            if part[index] == UInt8(ascii: "]") && !first { break }
            first = false
            let low = try member()
            if index + 1 < part.endIndex, part[index] == UInt8(ascii: "-"), part[index + 1] != UInt8(ascii: "]") {
                index += 1
                let high = try member()
                guard low <= high else {
                    throw PatternProblem(reason: "a class range runs backwards (its start is after its end)")
                }
                ranges.append(low...high)
            } else {
                ranges.append(low...low)
            }
        }
        return (CharacterClass(negated: negated, ranges: ranges), index + 1)
    }

    func matches(_ path: ArraySlice<ArraySlice<UInt8>>, isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        if basenameOnly, case .glob(let tokens) = components[0] {
            return Self.matchComponent(tokens, path[path.endIndex - 1])
        }
        return matchComponents(path)
    }

    /// Matches whole components, with "**" taking any number of them.
    ///
    /// The usual greedy wildcard walk with one backtrack point: "**" is the only component that can take a
    /// varying number of path components, so remembering the latest one and letting it take one more on a
    /// mismatch finds a match whenever there is one, in time linear in path length times pattern length.
    private func matchComponents(_ path: ArraySlice<ArraySlice<UInt8>>) -> Bool {
        var p = 0
        var s = path.startIndex
        var backtrack: (pattern: Int, subject: Int)?
        while s < path.endIndex {
            if p < components.count {
                switch components[p] {
                case .anyComponents:
                    backtrack = (p, s)
                    p += 1
                    continue
                case .glob(let tokens):
                    if Self.matchComponent(tokens, path[s]) {
                        p += 1
                        s += 1
                        continue
                    }
                }
            }
            guard let (starPattern, starSubject) = backtrack else { return false }
            backtrack = (starPattern, starSubject + 1)
            p = starPattern + 1
            s = starSubject + 1
        }
        // Leftover "**" components may match nothing, except a trailing one: "dir/**" means what is inside
        // "dir", so it needs at least one component, which it had only if it was reached before the path ended.
        while p < components.count, case .anyComponents = components[p] {
            if p == components.count - 1 { return false }
            p += 1
        }
        return p == components.count
    }

    /// Matches one path component against glob tokens, the same greedy walk at the character level.
    private static func matchComponent(_ tokens: [Token], _ name: ArraySlice<UInt8>) -> Bool {
        var t = 0
        var n = name.startIndex
        var backtrack: (token: Int, subject: Int)?
        while n < name.endIndex {
            if t < tokens.count {
                switch tokens[t] {
                case .star:
                    backtrack = (t, n)
                    t += 1
                    continue
                case .byte(let byte):
                    if name[n] == byte {
                        t += 1
                        n += 1
                        continue
                    }
                case .one:
                    t += 1
                    n += BytePath.decodeScalar(name, at: n).1
                    continue
                case .characterClass(let characterClass):
                    let (scalar, length) = BytePath.decodeScalar(name, at: n)
                    if characterClass.contains(scalar) {
                        t += 1
                        n += length
                        continue
                    }
                }
            }
            guard let (starToken, starSubject) = backtrack else { return false }
            // The star takes one more character (not byte), so matching stays on character boundaries.
            let next = starSubject + BytePath.decodeScalar(name, at: starSubject).1
            backtrack = (starToken, next)
            t = starToken + 1
            n = next
        }
        while t < tokens.count, tokens[t] == .star { t += 1 }
        return t == tokens.count
    }
}
