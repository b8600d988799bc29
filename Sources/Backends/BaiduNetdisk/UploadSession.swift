import ArchiverKit
import Foundation

/// What one upload sends: the object's path and the digests announced in `precreate`, sliced as Baidu slices it.
struct UploadPlan: Sendable {
    let name: ObjectName
    let path: String
    let digests: UploadDigests
    let sliceSize: Int
    /// Lowercase hex MD5 of each slice, in order: `block_list`.
    let sliceMD5s: [String]

    var sliceCount: Int { sliceMD5s.count }

    /// The number of bytes of slice `index`.
    func length(ofSlice index: Int) -> Int {
        Int(min(Int64(sliceSize), digests.size - Int64(index) * Int64(sliceSize)))
    }

    /// Checks an upload against the tier's limits and Baidu's rules before anything is sent.
    /// - Throws: `ArchiverError(.backend)` naming the object and the limit; `.internalError` for digests computed
    ///   with another slice size.
    init(name: ObjectName, path: String, size: Int64?, digests: UploadDigests?, capabilities: BackendCapabilities)
        throws
    {
        guard let digests else {
            throw ArchiverError(
                .backend, "object \(name): Baidu Netdisk needs the object's digests before its upload",
                subject: name.value)
        }
        if let size, size != digests.size {
            throw ArchiverError(
                .backend, "object \(name): size \(size) disagrees with the digests' size \(digests.size)",
                subject: name.value)
        }
        guard digests.size > 0 else {
            throw ArchiverError(
                .backend, "object \(name) is empty and Baidu Netdisk stores no empty objects", subject: name.value)
        }
        if let limit = capabilities.maxObjectSize, digests.size > limit {
            throw ArchiverError(
                .backend,
                "object \(name) has \(digests.size) bytes, more than the \(limit) the Baidu account's tier stores",
                subject: name.value)
        }
        let sliceSize = capabilities.sliceSize ?? 4 << 20
        let expected = Int((digests.size + Int64(sliceSize) - 1) / Int64(sliceSize))
        guard digests.sliceMD5s.count == expected else {
            throw ArchiverError(
                .internalError,
                "object \(name): \(digests.sliceMD5s.count) slice digests given, \(expected) slices of "
                    + "\(sliceSize) bytes expected (digests computed with another slice size)",
                subject: name.value)
        }
        if let maxSlices = capabilities.maxSlices, expected > maxSlices {
            throw ArchiverError(
                .backend, "object \(name) needs \(expected) slices of \(sliceSize) bytes; Baidu allows \(maxSlices)",
                subject: name.value)
        }
        self.name = name
        self.path = path
        self.digests = digests
        self.sliceSize = sliceSize
        self.sliceMD5s = digests.sliceMD5s.map(Hex.encode)
    }
}

/// An open upload session, as saved in the core's checkpoints so a later run can continue it.
struct UploadSessionState: Codable, Sendable, Equatable {
    var uploadid: String
    /// The host `locateupload` named; every slice of the session goes there.
    var host: String
    var path: String
    var sliceSize: Int
    /// Indices of the slices Baidu confirmed, ascending.
    var done: [Int]

    enum CodingKeys: String, CodingKey {
        case uploadid, host, path, done
        case sliceSize = "slice_size"
    }

    var checkpoint: UploadCheckpoint {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data()
        return UploadCheckpoint(state: String(decoding: data, as: UTF8.self))
    }

    init(uploadid: String, host: String, path: String, sliceSize: Int, done: [Int]) {
        self.uploadid = uploadid
        self.host = host
        self.path = path
        self.sliceSize = sliceSize
        self.done = done
    }

    /// Reads a checkpoint; nil when it is not one of ours.
    init?(_ checkpoint: UploadCheckpoint) {
        guard let state = try? JSONDecoder().decode(Self.self, from: Data(checkpoint.state.utf8)) else { return nil }
        self = state
    }
}
