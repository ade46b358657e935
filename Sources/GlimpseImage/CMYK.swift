// CMYK JPEGs to RGB the way Pillow does it, since libjpeg will not convert CMYK to RGB itself.

/// Converts `count` CMYK pixels (4 bytes each, as libjpeg returns them) to packed RGB (3 bytes each),
/// in place: the write position never passes the read position.
///
/// Pillow reads every 4-component JPEG as Adobe-inverted CMYK (rawmode "CMYK;I", the convention
/// Photoshop writes and the one Pillow itself saves with), i.e. stored = 255 - ink, and then converts
/// with `R = (255 - K) - (C * (255 - K)) / 255` using its rounded byte division. Doing the same keeps a
/// CMYK upload classified like its RGB original, and like the Python reference.
func convertInvertedCMYKToRGB(_ pixels: UnsafeMutablePointer<UInt8>, count: Int) {
    // Pillow's MULDIV255: a*b/255 rounded, without a division.
    @inline(__always) func multiplyDivide255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }
    for i in 0..<count {
        let source = pixels + 4 * i
        // Stored bytes are inverted, so the stored K byte is already 255 - K.
        let notBlack = Int(source[3])
        let cyan = 255 - Int(source[0]), magenta = 255 - Int(source[1]), yellow = 255 - Int(source[2])
        let destination = pixels + 3 * i
        destination[0] = UInt8(truncatingIfNeeded: notBlack - multiplyDivide255(cyan, notBlack))
        destination[1] = UInt8(truncatingIfNeeded: notBlack - multiplyDivide255(magenta, notBlack))
        destination[2] = UInt8(truncatingIfNeeded: notBlack - multiplyDivide255(yellow, notBlack))
    }
}
