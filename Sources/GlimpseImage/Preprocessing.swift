// A model's input recipe (size, layout, resize ratio, mean/std) and the resize/crop geometry it implies.
import GlimpseCore

/// How one model wants its input: resize keeping the aspect ratio until the image covers
/// `round(height / resizeRatio)` × `round(width / resizeRatio)`, centre-crop `height`×`width`, then
/// `x = (pixel - mean) / std` per RGB channel, laid out as `layout` says.
///
/// For a square input (S×S) that is the familiar "short side to round(S / ratio), centre crop S×S".
/// For a non-square one it is timm's `ResizeKeepRatio`: the scale is the larger of the two axes'
/// (target / image), so the crop always lies inside the resized image. torchvision's
/// `Resize(short) + CenterCrop((H, W))` would instead pad with black whenever the image's aspect
/// differs from the input's the other way round (a portrait photo into a landscape input).
public struct Preprocessing: Sendable, Hashable {
    /// H: rows of the model's input.
    public var height: Int
    /// W: columns of the model's input.
    public var width: Int
    /// NCHW (three planes) or NHWC (interleaved RGB), as the model's input declares.
    public var layout: ImageLayout
    /// The crop keeps this fraction of the resized image (0.875: 224 out of 256).
    public var resizeRatio: Double
    /// Per RGB channel, subtracted from the 0...255 pixel value.
    public var mean: [Float]
    /// Per RGB channel, divides after the mean is subtracted.
    public var std: [Float]

    /// The defaults are EfficientNet-Lite's (mean 127, std 128, as `scripts/convert_models.py` writes
    /// them into the models' metadata); a model without metadata gets `ClassifierInfo`'s instead.
    public init(height: Int, width: Int, layout: ImageLayout = .nchw, resizeRatio: Double = 0.875,
                mean: [Float] = [127, 127, 127], std: [Float] = [128, 128, 128]) {
        self.height = height
        self.width = width
        self.layout = layout
        self.resizeRatio = resizeRatio
        self.mean = mean
        self.std = std
    }

    /// A square NCHW input, S×S.
    public init(size: Int, resizeRatio: Double = 0.875, mean: [Float] = [127, 127, 127], std: [Float] = [128, 128, 128]) {
        self.init(height: size, width: size, layout: .nchw, resizeRatio: resizeRatio, mean: mean, std: std)
    }

    /// Floats in one output tensor: 3×H×W.
    public var outputCount: Int { 3 * height * width }

    /// The shape of one output tensor: [1, 3, H, W] or [1, H, W, 3].
    public var outputShape: [Int] {
        switch layout {
        case .nchw: [1, 3, height, width]
        case .nhwc: [1, height, width, 3]
        }
    }

    /// What the resized image must cover, `round(H / ratio)` × `round(W / ratio)`; rounds half to even
    /// like the Python reference's `round()`.
    public var resizeTarget: (height: Int, width: Int) {
        (Self.scaledUp(height, resizeRatio), Self.scaledUp(width, resizeRatio))
    }

    /// The resized short side of a square input, `round(S / ratio)`; for a non-square input, the smaller
    /// of the two targets (what an image with the input's own aspect ratio gets on its short side).
    public var resizedShortSide: Int {
        Self.scaledUp(min(height, width), resizeRatio)
    }

    private static func scaledUp(_ side: Int, _ ratio: Double) -> Int {
        Int((Double(side) / ratio).rounded(.toNearestOrEven))
    }

    /// The axis of a `width`×`height` image that sets the scale, as (its length in the image, the length it
    /// is resized to): the one that needs the most enlarging (or the least shrinking) to cover its target.
    /// The other axis comes out at least as long as its own target. For a square input this is the image's
    /// short side; ties (the image has the target's aspect) go to the width, as they always have.
    public func scalingAxis(width imageWidth: Int, height imageHeight: Int) -> (image: Int, resized: Int, isWidth: Bool) {
        let target = resizeTarget
        // target.width / imageWidth >= target.height / imageHeight, in integers so no rounding decides it.
        if target.width * imageHeight >= target.height * imageWidth {
            return (imageWidth, target.width, true)
        }
        return (imageHeight, target.height, false)
    }
}

/// Where an image of a given size lands: resized to `resizedWidth`×`resizedHeight`, then the H×W window at
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
        let axis = p.scalingAxis(width: width, height: height)
        // The scaling axis becomes its target exactly; the other is round(length × scale) with
        // scale = target/length, written that way so ties round the same as the reference's Python
        // expression, and never below the crop so the crop always fits.
        let scale = Double(axis.resized) / Double(axis.image)
        if axis.isWidth {
            resizedWidth = axis.resized
            resizedHeight = max(p.height, Int((Double(height) * scale).rounded(.toNearestOrEven)))
        } else {
            resizedHeight = axis.resized
            resizedWidth = max(p.width, Int((Double(width) * scale).rounded(.toNearestOrEven)))
        }
        cropLeft = (resizedWidth - p.width) / 2
        cropTop = (resizedHeight - p.height) / 2
    }
}
