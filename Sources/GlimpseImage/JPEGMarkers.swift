// Walks the JPEG marker segments up to the first scan, to tell "not a JPEG" and "cut off in the header" apart.
//
// Why not leave this to TurboJPEG: libjpeg-turbo 2.1's tjDecompressHeader3 reports success, with the
// width and height left unset, for data that ends before the frame header (it takes the stream for a
// tables-only JPEG), and reports header truncation in several different words. Walking the segment lengths
// ourselves gives one precise answer and costs a few comparisons per segment (APP payloads are skipped).

/// What the frame header (SOFn) declares.
struct JPEGFrame: Equatable {
    var width: Int
    var height: Int
    var components: Int
    var precision: Int
}

/// Returns the frame header, or throws `.empty`, `.notJPEG`, `.truncated` or `.decodeFailed` (no frame, or
/// an end-of-image marker before the first scan). Anything subtler is left for libjpeg to judge.
func scanJPEGMarkers(_ bytes: UnsafeRawBufferPointer) throws(ImageError) -> JPEGFrame {
    let count = bytes.count
    guard count > 0 else { throw .empty }
    guard count >= 2, bytes[0] == 0xFF, bytes[1] == 0xD8 else {
        throw .notJPEG(leadingBytes: Array(bytes.prefix(12)))
    }
    var frame: JPEGFrame?
    var i = 2
    while true {
        // libjpeg skips garbage before a marker (with a warning) and any number of 0xFF fill bytes.
        while i < count && bytes[i] != 0xFF { i += 1 }
        while i < count && bytes[i] == 0xFF { i += 1 }
        guard i < count else { throw .truncated(after: count) }
        let marker = bytes[i]
        i += 1
        switch marker {
        case 0x01, 0xD0...0xD7:
            continue  // standalone markers: no length
        case 0xD9:
            throw .decodeFailed("end-of-image marker before any image data")
        default:
            break
        }
        guard i + 2 <= count else { throw .truncated(after: count) }
        let length = Int(bytes[i]) << 8 | Int(bytes[i + 1])
        guard length >= 2 else { throw .decodeFailed("marker 0xFF\(String(marker, radix: 16, uppercase: true)) has bogus length \(length)") }
        guard i + length <= count else { throw .truncated(after: count) }
        switch marker {
        // SOF0...SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
        case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
            guard length >= 8 else { throw .decodeFailed("frame header is \(length) bytes, needs at least 8") }
            frame = JPEGFrame(
                width: Int(bytes[i + 5]) << 8 | Int(bytes[i + 6]),
                height: Int(bytes[i + 3]) << 8 | Int(bytes[i + 4]),
                components: Int(bytes[i + 7]),
                precision: Int(bytes[i + 2]))
        case 0xDA:
            guard let frame else { throw .decodeFailed("scan starts before any frame header (SOF)") }
            return frame
        default:
            break
        }
        i += length
    }
}
