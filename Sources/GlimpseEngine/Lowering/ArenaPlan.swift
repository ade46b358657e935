// The arena plan: offsets for every buffer, made once per program, so that a run allocates nothing.

extension Lowering {
    /// Assigns arena offsets so that buffers whose lifetimes overlap never share memory:
    /// largest first, each at the lowest offset that fits between the live ones (greedy by size).
    func plan(inputs: [Int], outputs: [Int]) -> (offsets: [Int: Int], size: Int) {
        var first: [Int: Int] = [:], last: [Int: Int] = [:]
        func touch(_ id: Int, _ time: Int) {
            let r = root(id)
            first[r] = min(first[r] ?? time, time)
            last[r] = max(last[r] ?? time, time)
        }
        for id in inputs { touch(id, -1) }
        for (time, step) in pending.enumerated() {
            step.inputs.forEach { touch($0, time) }
            touch(step.output, time)
        }
        for id in outputs { touch(id, pending.count) }
        let align = 16 // floats: 64-byte lines
        let roots = first.keys.sorted { buffers[$0].size > buffers[$1].size || (buffers[$0].size == buffers[$1].size && $0 < $1) }
        var placedRanges: [(id: Int, offset: Int, end: Int)] = []
        var offsets: [Int: Int] = [:]
        var total = 0
        for id in roots {
            let size = (buffers[id].size + align - 1) / align * align
            let live = placedRanges.filter { first[$0.id]! <= last[id]! && first[id]! <= last[$0.id]! }
                .sorted { $0.offset < $1.offset }
            var offset = 0
            for range in live {
                if range.offset >= offset + size { break }
                offset = max(offset, range.end)
            }
            offsets[id] = offset
            placedRanges.append((id, offset, offset + size))
            total = max(total, offset + size)
        }
        return (offsets, total)
    }
}
