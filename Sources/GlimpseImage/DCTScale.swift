// Which reduced-size IDCT to decode with: libjpeg can emit 1/2, 1/4 or 1/8 size almost for free.

/// A libjpeg DCT scaling factor `1/denominator`.
public struct DCTScale: Sendable, Hashable, CustomStringConvertible {
    public var denominator: Int

    public static let full = DCTScale(denominator: 1)
    public static let half = DCTScale(denominator: 2)
    public static let quarter = DCTScale(denominator: 4)
    public static let eighth = DCTScale(denominator: 8)

    /// Smallest first. Only power-of-two factors: measured on our servers, 3/4 and 7/8 decode slower than
    /// a full-size decode, so an image that cannot take 1/2 is decoded whole.
    static let candidates: [DCTScale] = [.eighth, .quarter, .half]

    /// The decoded length of a side, libjpeg's rounding (`TJSCALED`): a partial 8×8 block still yields a pixel.
    public func scaled(_ length: Int) -> Int {
        (length + denominator - 1) / denominator
    }

    /// The same side in decoded pixels as a real number: where the original image's right/bottom edge falls.
    /// Pillow's `draft()` uses this as the resize box, so reduced decodes stay aligned with full ones.
    func exactScaled(_ length: Int) -> Float {
        Float(length) / Float(denominator)
    }

    public var description: String { "1/\(denominator)" }

    /// The smallest factor that still leaves the image's scaling axis (`Preprocessing.scalingAxis`: the one
    /// that needs the most pixels for its resize target) at least as long as that target, so the resize only
    /// ever shrinks what the IDCT produced; `.full` when no reduction leaves enough pixels.
    ///
    /// For a square input the scaling axis is the image's short side. For a non-square one it need not be:
    /// a portrait photo going into a landscape input is scaled by its width, which may be its short side
    /// but needs round(W / ratio) pixels, not round(H / ratio).
    public static func choose(width: Int, height: Int, for preprocessing: Preprocessing) -> DCTScale {
        let axis = preprocessing.scalingAxis(width: width, height: height)
        return choose(side: axis.image, target: axis.resized)
    }

    /// The smallest factor whose decoded short side is still at least `shortSide`: `choose(width:height:for:)`
    /// for a square input whose resized short side is `shortSide`.
    public static func choose(width: Int, height: Int, shortSide: Int) -> DCTScale {
        choose(side: min(width, height), target: shortSide)
    }

    static func choose(side: Int, target: Int) -> DCTScale {
        candidates.first { $0.scaled(side) >= target } ?? .full
    }
}
