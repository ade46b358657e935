// JPEG bytes → normalized float32 NCHW or NHWC tensor: decode at a reduced DCT scale, Pillow-bilinear resize, crop, normalize.

/// Turns JPEG bytes into one model's input tensor. One per worker thread: it keeps scratch buffers (grown to
/// the largest image seen, bounded by the pixel limits) and reuses them, so it is deliberately not Sendable.
///
/// Each image gets a fresh TurboJPEG decompressor (creating one costs about 0.25 µs against ~1 ms of
/// decoding). A reused one carries libjpeg state from image to image: Huffman and quantization tables
/// persist (a file that omits them decodes with the previous request's), and in TurboJPEG 2.1 a failed
/// header read leaves the handle stuck, failing every later image the same way.
///
/// The reference is the Python pipeline `Image.open(f).convert("RGB").resize((nw, nh), Image.BILINEAR)`,
/// centre crop, `(x - mean) / std`, transposed to the model's layout (`scripts/reference_preprocess.py`).
/// Differences, all deliberate:
/// - large images are decoded at 1/2, 1/4 or 1/8 size by libjpeg (see `DCTScale.choose`), which is much
///   faster and changes pixel values slightly; images that need a full-size decode match Pillow bit for bit;
/// - only the H×W window that survives the crop is resampled, and the last pass writes the model's layout
///   (planes or interleaved) directly, so there is no transpose pass;
/// - images with a side under `minimumSide` pixels are refused rather than upscaled.
public final class ImagePipeline {
    /// Sides below this are refused (`.tooSmall`). An image under 8 pixels is less than one JPEG block:
    /// upscaled to 256 it is a smear of one or two colours, the model still answers with confidence, and
    /// such files are in practice tracking pixels and placeholders, so an error serves the client better.
    /// From 8 pixels up, small images are upscaled exactly as Pillow would.
    public static let minimumSide = 8

    public let preprocessing: Preprocessing
    /// Largest decoded image (after DCT scaling) in pixels; bounds the decode buffer.
    public let maxDecodedPixels: Int
    /// Largest image the header may declare, in pixels. Needed besides `maxDecodedPixels` because libjpeg
    /// sizes some of its own memory by the declared size whatever the DCT scale: progressive and multi-scan
    /// files keep every coefficient of the whole image (2 bytes per sample: ~3 bytes per pixel at 4:2:0,
    /// up to 8 for CMYK), so 20000×20000 would cost it 1.2 GB before the first pixel came out.
    public let maxDeclaredPixels: Int

    private var decoded = Scratch<UInt8>()
    private var rowPass = Scratch<UInt8>()
    private var columnSums = Scratch<Int32>()
    private var columnTaps = BilinearTaps()
    private var rowTaps = BilinearTaps()
    /// `(value - mean[c]) / std[c]` for every byte value, 256 per channel: exactly the float32 arithmetic
    /// of the reference, done once instead of per pixel.
    private let normalizeTable: UnsafeMutablePointer<Float>

    /// - Parameters:
    ///   - preprocessing: the model's recipe; height and width > 0, `0 < resizeRatio <= 1`, three means and three
    ///     non-zero stds (the engine validates model metadata before it gets here).
    ///   - maxDecodedPixels: limit on the decoded (DCT-scaled) image, which bounds this pipeline's buffers.
    ///   - maxDeclaredPixels: limit on the size the JPEG header declares; 100 MP covers today's 48–102 MP
    ///     cameras.
    public init(_ preprocessing: Preprocessing, maxDecodedPixels: Int = 40_000_000, maxDeclaredPixels: Int = 100_000_000) {
        precondition(preprocessing.height > 0 && preprocessing.width > 0, "preprocessing height and width must be positive")
        precondition(preprocessing.resizeRatio > 0 && preprocessing.resizeRatio <= 1, "resizeRatio must be in (0, 1]")
        precondition(preprocessing.mean.count == 3 && preprocessing.std.count == 3, "mean and std need one value per RGB channel")
        precondition(!preprocessing.std.contains(0), "std must be non-zero")
        self.preprocessing = preprocessing
        self.maxDecodedPixels = maxDecodedPixels
        self.maxDeclaredPixels = maxDeclaredPixels
        normalizeTable = .allocate(capacity: 3 * 256)
        for channel in 0..<3 {
            for value in 0..<256 {
                normalizeTable[channel * 256 + value] =
                    (Float(value) - preprocessing.mean[channel]) / preprocessing.std[channel]
            }
        }
    }

    deinit {
        normalizeTable.deallocate()
    }

    /// Decodes, resizes, centre-crops and normalizes into `output` (3*H*W floats, RGB order, laid out as
    /// `preprocessing.layout` says).
    public func preprocess(jpeg: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>) throws(ImageError) {
        let width = preprocessing.width, height = preprocessing.height
        guard output.count == preprocessing.outputCount, let outputBase = output.baseAddress else {
            throw .outputSize(expected: preprocessing.outputCount, actual: output.count)
        }
        let image = try decode(jpeg)
        let geometry = ResizeGeometry(width: image.originalWidth, height: image.originalHeight, preprocessing: preprocessing)

        columnTaps.compute(
            inputSize: image.width, inputExtent: image.scale.exactScaled(image.originalWidth),
            outputSize: geometry.resizedWidth, first: geometry.cropLeft, count: width, uniform: true)
        rowTaps.compute(
            inputSize: image.height, inputExtent: image.scale.exactScaled(image.originalHeight),
            outputSize: geometry.resizedHeight, first: geometry.cropTop, count: height)

        let rows = rowTaps.firstInput..<rowTaps.endInput
        let intermediate = rowPass.reserve(rows.count * width * 3)
        resampleRows(
            source: image.pixels, sourceRowBytes: image.width * 3, rows: rows,
            columns: columnTaps, destination: intermediate)
        resampleColumnsAndNormalize(
            source: intermediate, width: width, rows: rowTaps, table: normalizeTable, layout: preprocessing.layout,
            output: outputBase, sums: columnSums.reserve(width * 3))
    }

    /// Bytes of scratch memory this pipeline holds; grows to the largest image seen, never shrinks.
    @_spi(Testing) public var scratchByteCount: Int {
        decoded.capacity + rowPass.capacity + columnSums.capacity * MemoryLayout<Int32>.stride
            + columnTaps.byteCount + rowTaps.byteCount
    }

    /// Convenience for tests and tools: a fresh array of 3*H*W floats.
    public func preprocess(jpeg: [UInt8]) throws(ImageError) -> [Float] {
        var output = [Float](repeating: 0, count: preprocessing.outputCount)
        let result: Result<Void, ImageError> = jpeg.withUnsafeBytes { bytes in
            output.withUnsafeMutableBufferPointer { buffer in
                Result { () throws(ImageError) in try preprocess(jpeg: bytes, into: buffer) }
            }
        }
        try result.get()
        return output
    }

    /// A decoded image in this pipeline's scratch memory, valid until the next call.
    @_spi(Testing) public struct DecodedImage {
        /// Packed RGB, `width * height * 3` bytes.
        @_spi(Testing) public var pixels: UnsafePointer<UInt8>
        /// Decoded size, after DCT scaling.
        @_spi(Testing) public var width: Int
        @_spi(Testing) public var height: Int
        @_spi(Testing) public var scale: DCTScale
        /// As declared by the header.
        @_spi(Testing) public var originalWidth: Int
        @_spi(Testing) public var originalHeight: Int
    }

    /// Validates the header, picks the DCT scale and decodes to packed RGB. Every limit is checked from the
    /// header, before the decode buffer is sized.
    @_spi(Testing) public func decode(_ jpeg: UnsafeRawBufferPointer) throws(ImageError) -> DecodedImage {
        let frame = try scanJPEGMarkers(jpeg)
        guard min(frame.width, frame.height) >= Self.minimumSide else {
            throw .tooSmall(width: frame.width, height: frame.height, minimum: Self.minimumSide)
        }
        guard frame.width * frame.height <= maxDeclaredPixels else {
            throw .tooLarge(width: frame.width, height: frame.height, limit: maxDeclaredPixels)
        }
        // The frame header says all we need, so libjpeg reads the header only once, in the decode:
        // 4 components is CMYK or YCCK, which libjpeg only gives out as CMYK; 1 (gray) and 3 (YCbCr or
        // RGB) it converts to RGB itself; anything else it refuses.
        let scale = DCTScale.choose(width: frame.width, height: frame.height, for: preprocessing)
        let width = scale.scaled(frame.width), height = scale.scaled(frame.height)
        guard width * height <= maxDecodedPixels else {
            throw .decodedTooLarge(width: width, height: height, limit: maxDecodedPixels)
        }
        let format: DecodedPixelFormat = frame.components == 4 ? .cmyk : .rgb
        let pixels = decoded.reserve(width * height * format.bytesPerPixel)
        try TurboJPEGDecoder().decode(jpeg, into: pixels, width: width, height: height, format: format)
        if format == .cmyk {
            convertInvertedCMYKToRGB(pixels, count: width * height)
        }
        return DecodedImage(
            pixels: pixels, width: width, height: height, scale: scale,
            originalWidth: frame.width, originalHeight: frame.height)
    }
}
