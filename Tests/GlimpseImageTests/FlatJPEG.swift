// Writes real baseline JPEGs of one flat gray level at any size, for size-limit tests the sample images cannot cover.

/// A valid grayscale baseline JPEG, `width`×`height`, every pixel `level`. Built by hand rather than with an
/// encoder: unit quantization, and Huffman tables with just the codes a flat image needs (DC category 0 or
/// the first block's, AC end-of-block), so each 8×8 block after the first costs two bits.
func flatGrayJPEG(width: Int, height: Int, level: UInt8) -> [UInt8] {
    var out: [UInt8] = [0xFF, 0xD8]
    func segment(_ marker: UInt8, _ body: [UInt8]) {
        let length = body.count + 2
        out += [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)] + body
    }
    // With all-ones quantization the IDCT gives DC / 8 + 128 everywhere.
    let dc = (Int(level) - 128) * 8
    let category = dc == 0 ? 0 : Int.bitWidth - abs(dc).leadingZeroBitCount
    segment(0xDB, [0x00] + [UInt8](repeating: 1, count: 64))
    segment(0xC0, [8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF), 1, 1, 0x11, 0])
    // DC table 0: category 0 → "0", the first block's category → "10". AC table 0: end-of-block → "0".
    let dcSymbols: [UInt8] = category == 0 ? [0] : [0, UInt8(category)]
    let dcCounts: [UInt8] = category == 0 ? [1] + [UInt8](repeating: 0, count: 15) : [1, 1] + [UInt8](repeating: 0, count: 14)
    segment(0xC4, [0x00] + dcCounts + dcSymbols)
    segment(0xC4, [0x10, 1] + [UInt8](repeating: 0, count: 15) + [0x00])
    segment(0xDA, [1, 1, 0x00, 0, 63, 0])

    var bits: [Bool] = []
    func put(_ value: Int, _ count: Int) {
        for i in stride(from: count - 1, through: 0, by: -1) { bits.append(value >> i & 1 == 1) }
    }
    let blocks = ((width + 7) / 8) * ((height + 7) / 8)
    for block in 0..<blocks {
        if block == 0 && category > 0 {
            put(0b10, 2)
            put(dc > 0 ? dc : dc + (1 << category) - 1, category)  // negative values in ones' complement
        } else {
            put(0, 1)  // DC difference 0
        }
        put(0, 1)  // end of block
    }
    while bits.count % 8 != 0 { bits.append(true) }  // pad with ones, as the standard says
    for start in stride(from: 0, to: bits.count, by: 8) {
        let byte = bits[start..<start + 8].reduce(UInt8(0)) { $0 << 1 | ($1 ? 1 : 0) }
        out.append(byte)
        if byte == 0xFF { out.append(0x00) }  // byte stuffing
    }
    out += [0xFF, 0xD9]
    return out
}
