/// The limits of a Baidu member tier (`uinfo`'s `vip_type`), section 2.3 of the API notes.
struct BaiduTier: Sendable, Equatable {
    /// 0 normal, 1 VIP, 2 SVIP.
    var vipType: Int
    /// The slice size uploads use.
    var sliceSize: Int
    /// The largest object.
    var maxObjectSize: Int64
    /// The most slices of one object.
    var maxSlices: Int

    /// The tier's own limits: 4 / 16 / 32 MiB slices, 4 / 10 / 20 GB objects, 1024 slices.
    init(vipType: Int) {
        self.vipType = vipType
        switch vipType {
        case 2:
            sliceSize = 32 << 20
            maxObjectSize = 20_000_000_000
        case 1:
            sliceSize = 16 << 20
            maxObjectSize = 10_000_000_000
        default:
            sliceSize = 4 << 20
            maxObjectSize = 4_000_000_000
        }
        maxSlices = 1024
    }

    /// The tier's limits lowered by `slice_size` and `max_object_size`, which never raise them.
    ///
    /// Baidu fixes the slice size of normal accounts at 4 MiB; a lower `slice_size` is honoured there only because
    /// the fake server can be told to expect it.
    func lowered(sliceSize sliceLimit: Int?, maxObjectSize objectLimit: Int64?) -> BaiduTier {
        var tier = self
        if let sliceLimit { tier.sliceSize = min(tier.sliceSize, sliceLimit) }
        if let objectLimit { tier.maxObjectSize = min(tier.maxObjectSize, objectLimit) }
        return tier
    }

    var name: String {
        switch vipType {
        case 2: return "super member (SVIP)"
        case 1: return "member (VIP)"
        default: return "normal account"
        }
    }
}
