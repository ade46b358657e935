// Everything that can go wrong turning JPEG bytes into a tensor, each with the status the client sees.
import GlimpseCore

public enum ImageError: StatusError, Equatable {
    /// Zero bytes were sent.
    case empty
    /// The bytes do not start with the JPEG SOI marker (FF D8); `leadingBytes` are the first few, for the message.
    case notJPEG(leadingBytes: [UInt8])
    /// The data ends before the image does; `after` is how many bytes there were.
    case truncated(after: Int)
    /// A side is below `ImagePipeline.minimumSide`.
    case tooSmall(width: Int, height: Int, minimum: Int)
    /// The declared (SOF) size is over the pipeline's `maxDeclaredPixels`: refused before anything is allocated.
    case tooLarge(width: Int, height: Int, limit: Int)
    /// Even at the chosen DCT scale the decoded image would exceed `maxDecodedPixels` (extreme aspect ratios).
    case decodedTooLarge(width: Int, height: Int, limit: Int)
    /// libjpeg could not decode the data (corrupt entropy data, unsupported precision, ...); its message.
    case decodeFailed(String)
    /// libjpeg ran out of memory; its message.
    case outOfMemory(String)
    /// The caller passed an output buffer of the wrong length: a bug in the caller, not in the image.
    case outputSize(expected: Int, actual: Int)
    /// libjpeg could not encode pixels we gave it (only `encodeJPEG` throws this); its message.
    case encodeFailed(String)

    public var status: StatusCode {
        switch self {
        case .empty, .notJPEG, .truncated, .tooSmall, .decodeFailed:
            .invalidArgument
        // Not resourceExhausted: clients retry that, and this request fails the same way every time.
        case .tooLarge, .decodedTooLarge:
            .invalidArgument
        case .outOfMemory:
            .resourceExhausted
        case .outputSize, .encodeFailed:
            .internal
        }
    }

    public var description: String {
        switch self {
        case .empty:
            "JPEG is empty: 0 bytes"
        case .notJPEG(let leading):
            "not a JPEG: starts with \(hex(leading))\(formatGuess(leading)), expected FF D8"
        case .truncated(let count):
            "JPEG truncated after \(count) bytes: the data ends before the image does"
        case .tooSmall(let width, let height, let minimum):
            "JPEG \(width)×\(height) is too small: both sides must be at least \(minimum) pixels"
        case .tooLarge(let width, let height, let limit):
            "JPEG \(width)×\(height) is too large: \(width * height) pixels declared, limit \(limit)"
        case .decodedTooLarge(let width, let height, let limit):
            "JPEG decodes to \(width)×\(height) = \(width * height) pixels even at reduced scale, limit \(limit)"
        case .decodeFailed(let message):
            "JPEG decode failed: \(message)"
        case .outOfMemory(let message):
            "JPEG decoder out of memory: \(message)"
        case .outputSize(let expected, let actual):
            "image output buffer holds \(actual) floats, preprocessing needs \(expected)"
        case .encodeFailed(let message):
            "JPEG encode failed: \(message)"
        }
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}

// Naming the format a client actually sent turns "not a JPEG" into an actionable message.
private func formatGuess(_ bytes: [UInt8]) -> String {
    func starts(with prefix: [UInt8], at offset: Int = 0) -> Bool {
        bytes.count >= offset + prefix.count && Array(bytes[offset..<offset + prefix.count]) == prefix
    }
    let name: String? =
        if starts(with: [0x89, 0x50, 0x4E, 0x47]) { "PNG" }
        else if starts(with: Array("GIF8".utf8)) { "GIF" }
        else if starts(with: Array("RIFF".utf8)) && starts(with: Array("WEBP".utf8), at: 8) { "WebP" }
        else if starts(with: Array("ftyp".utf8), at: 4) { "HEIF/AVIF/MP4" }
        else if starts(with: [0x49, 0x49, 0x2A, 0x00]) || starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { "TIFF" }
        else if starts(with: Array("BM".utf8)) { "BMP" }
        else { nil }
    return name.map { " (looks like \($0))" } ?? ""
}
