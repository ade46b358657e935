// RGB pixels → JPEG bytes through TurboJPEG, for tools that need images of their own (glimpse load --synthetic).
import CTurboJPEG

/// Encodes `rgb` (`width * height * 3` bytes, rows packed, no padding) as a baseline 4:2:0 JPEG.
public func encodeJPEG(rgb: [UInt8], width: Int, height: Int, quality: Int = 90) throws(ImageError) -> [UInt8] {
    precondition(width > 0 && height > 0 && rgb.count == width * height * 3, "rgb must hold width * height * 3 bytes")
    guard let handle = tjInitCompress() else {
        throw .encodeFailed(String(cString: tjGetErrorStr2(nil)))
    }
    defer { tjDestroy(handle) }
    var output: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    let status = rgb.withUnsafeBufferPointer { pixels in
        tjCompress2(handle, pixels.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                    &output, &size, Int32(TJSAMP_420.rawValue), Int32(min(max(quality, 1), 100)), 0)
    }
    defer { if let output { tjFree(output) } }
    guard status == 0, let output else { throw .encodeFailed(String(cString: tjGetErrorStr2(handle))) }
    return Array(UnsafeBufferPointer(start: output, count: Int(size)))
}
