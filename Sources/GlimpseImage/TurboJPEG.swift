// The thin layer over libjpeg-turbo's TurboJPEG 2.1 API: decompressor handles, and C error codes turned into ImageError.
import CTurboJPEG

/// The colour model libjpeg infers from the header (component count, Adobe and JFIF markers).
public enum JPEGColorspace: Sendable, Hashable {
    case rgb, yCbCr, gray, cmyk, ycck
}

/// What a JPEG declares about itself, read from the header only (no pixels are decoded).
public struct JPEGInfo: Sendable, Hashable {
    public var width: Int
    public var height: Int
    public var colorspace: JPEGColorspace

    public init(width: Int, height: Int, colorspace: JPEGColorspace) {
        (self.width, self.height, self.colorspace) = (width, height, colorspace)
    }
}

/// Reads a JPEG's size and colour model from its header. Throws the same errors `ImagePipeline` would
/// for a malformed header (`.empty`, `.notJPEG`, `.truncated`, `.decodeFailed`).
public func readJPEGInfo(_ bytes: UnsafeRawBufferPointer) throws(ImageError) -> JPEGInfo {
    _ = try scanJPEGMarkers(bytes)
    let decoder = TurboJPEGDecoder()
    return try decoder.readInfo(bytes)
}

/// Pixel layouts we ask libjpeg for.
enum DecodedPixelFormat {
    /// 3 bytes per pixel; libjpeg converts YCbCr and replicates grayscale.
    case rgb
    /// 4 bytes per pixel, as stored; libjpeg refuses CMYK→RGB, and converts YCCK→CMYK itself.
    case cmyk

    var bytesPerPixel: Int {
        switch self {
        case .rgb: 3
        case .cmyk: 4
        }
    }

    fileprivate var tjPixelFormat: Int32 {
        switch self {
        case .rgb: TJPF_RGB.rawValue
        case .cmyk: TJPF_CMYK.rawValue
        }
    }
}

/// Owns one TurboJPEG decompressor, destroyed with it. Use one per image (see `ImagePipeline` for why);
/// never share one between threads (libjpeg state and the error string live in the handle).
struct TurboJPEGDecoder: ~Copyable {
    private let handle: tjhandle

    init() {
        // tjInitDecompress only fails when malloc does, at which point there is nothing sensible to do.
        guard let handle = tjInitDecompress() else {
            fatalError("tjInitDecompress failed: \(String(cString: tjGetErrorStr2(nil)))")
        }
        self.handle = handle
    }

    deinit {
        tjDestroy(handle)
    }

    /// The header as libjpeg reads it. Call `scanJPEGMarkers` first: TurboJPEG 2.1 reports success without
    /// setting the size for data that ends before the frame header. After a failure the handle is stuck
    /// mid-header (TurboJPEG 2.1 does not reset it): throw it away.
    func readInfo(_ bytes: UnsafeRawBufferPointer) throws(ImageError) -> JPEGInfo {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = -1
        let status = tjDecompressHeader3(
            handle, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
            &width, &height, &subsampling, &colorspace)
        guard status == 0 else { throw lastFailure(byteCount: bytes.count) }
        let space: JPEGColorspace
        switch colorspace {
        case Int32(TJCS_RGB.rawValue): space = .rgb
        case Int32(TJCS_YCbCr.rawValue): space = .yCbCr
        case Int32(TJCS_GRAY.rawValue): space = .gray
        case Int32(TJCS_CMYK.rawValue): space = .cmyk
        case Int32(TJCS_YCCK.rawValue): space = .ycck
        default: throw .decodeFailed("unsupported JPEG colorspace \(colorspace)")
        }
        guard width > 0, height > 0 else { throw .decodeFailed("header declares no image size") }
        return JPEGInfo(width: Int(width), height: Int(height), colorspace: space)
    }

    /// Decodes into `destination` (`width * height * format.bytesPerPixel` bytes, rows packed). `width` and
    /// `height` must be the JPEG's size under one of libjpeg's scaling factors: TurboJPEG picks the largest
    /// factor that fits them, which for sides of 8 or more is exactly the one they were computed with.
    func decode(
        _ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutablePointer<UInt8>,
        width: Int, height: Int, format: DecodedPixelFormat
    ) throws(ImageError) {
        // STOPONWARNING: libjpeg reports truncation and corrupt entropy data only as warnings and would
        // otherwise go on to "decode" the rest of the declared size from nothing; we fail fast instead.
        // LIMITSCANS: a progressive file with thousands of tiny scans is a known CPU-exhaustion attack.
        let status = tjDecompress2(
            handle, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
            destination, Int32(width), 0, Int32(height), format.tjPixelFormat,
            TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)
        guard status == 0 else { throw lastFailure(byteCount: bytes.count) }
    }

    /// Turns the handle's error into an ImageError. libjpeg only exposes text, so this matches fixed strings
    /// of its message table (jerror.h), unchanged for decades.
    private func lastFailure(byteCount: Int) -> ImageError {
        let message = String(cString: tjGetErrorStr2(handle))
        if message.hasPrefix("Premature end of JPEG file") {
            return .truncated(after: byteCount)
        }
        if message.hasPrefix("Insufficient memory") {
            return .outOfMemory(message)
        }
        return .decodeFailed(message)
    }
}
