// A model's input recipe (size, resize ratio, mean/std) and the resize/crop geometry it implies.

/// How one model wants its input: resize the short side to `round(size / resizeRatio)`, centre-crop
/// `size`×`size`, then `x = (pixel - mean) / std` per RGB channel, laid out NCHW.
public struct Preprocessing: Sendable, Hashable {
    /// S: the output is 3×S×S.
    public var size: Int
    /// The crop keeps this fraction of the resized short side (0.875: 224 out of 256).
    public var resizeRatio: Double
    /// Per RGB channel, subtracted from the 0...255 pixel value.
    public var mean: [Float]
    /// Per RGB channel, divides after the mean is subtracted.
    public var std: [Float]

    public init(size: Int, resizeRatio: Double = 0.875, mean: [Float] = [127, 127, 127], std: [Float] = [128, 128, 128]) {
        self.size = size
        self.resizeRatio = resizeRatio
        self.mean = mean
        self.std = std
    }

    /// Floats in one output tensor: 3×S×S.
    public var outputCount: Int { 3 * size * size }

    /// The short side after resizing, `round(S / ratio)`; rounds half to even like the Python reference's `round()`.
    public var resizedShortSide: Int {
        Int((Double(size) / resizeRatio).rounded(.toNearestOrEven))
    }
}

/// Where an image of a given size lands: resized to `resizedWidth`×`resizedHeight`, then the S×S window at
/// (`cropLeft`, `cropTop`) is kept. Pure arithmetic on the original (declared) size, so the DCT scale used
/// to decode does not move the crop.
@_spi(Testing) public struct ResizeGeometry: Equatable {
    @_spi(Testing) public var resizedWidth: Int
    @_spi(Testing) public var resizedHeight: Int
    @_spi(Testing) public var cropLeft: Int
    @_spi(Testing) public var cropTop: Int

    @_spi(Testing) public init(resizedWidth: Int, resizedHeight: Int, cropLeft: Int, cropTop: Int) {
        (self.resizedWidth, self.resizedHeight, self.cropLeft, self.cropTop) = (resizedWidth, resizedHeight, cropLeft, cropTop)
    }
}

extension ResizeGeometry {
    @_spi(Testing) public init(width: Int, height: Int, preprocessing p: Preprocessing) {
        let short = p.resizedShortSide
        // Long side is round(long × scale) with scale = short'/short, written that way so ties round
        // the same as the reference's Python expression; never below S so the crop always fits.
        if width <= height {
            resizedWidth = short
            resizedHeight = max(p.size, Int((Double(height) * (Double(short) / Double(width))).rounded(.toNearestOrEven)))
        } else {
            resizedHeight = short
            resizedWidth = max(p.size, Int((Double(width) * (Double(short) / Double(height))).rounded(.toNearestOrEven)))
        }
        cropLeft = (resizedWidth - p.size) / 2
        cropTop = (resizedHeight - p.size) / 2
    }
}
