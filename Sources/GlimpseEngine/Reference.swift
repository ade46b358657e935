// Plain Swift definitions of the ops: constant folding at load time, the engine's reference for an op
// no kernel covers (Pad's index map runs at request time too), and the epilogue's arithmetic.

enum Reference {
    /// Row-major strides of a shape.
    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        return strides
    }

    /// Strides that read `shape` broadcast up to `target` (0 where a dimension repeats).
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let padded = Array(repeating: 1, count: target.count - shape.count) + shape
        let own = strides(padded)
        return (0..<target.count).map { padded[$0] == 1 && target[$0] != 1 ? 0 : own[$0] }
    }

    /// Calls body(outputIndex, offsetA, offsetB) for every element of `shape`.
    static func forEach(_ shape: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
        let count = elementCount(shape)
        var index = [Int](repeating: 0, count: shape.count)
        var (oa, ob) = (0, 0)
        for i in 0..<count {
            body(i, oa, ob)
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                oa += sa[axis]
                ob += sb[axis]
                if index[axis] < shape[axis] { break }
                oa -= sa[axis] * shape[axis]
                ob -= sb[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    static func apply(_ op: BinaryOp, _ a: Float, _ b: Float) -> Float {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        }
    }

    /// The kernels' epilogue in plain Swift: clamp(activation(x)).
    static func apply(_ e: Epilogue, _ x: Float) -> Float {
        let y: Float = switch e.activation {
        case .identity: x
        case let .hardSwish(alpha, beta): x * min(max(alpha * x + beta, 0), 1)
        case let .hardSigmoid(alpha, beta): min(max(alpha * x + beta, 0), 1)
        case .sigmoid: 1 / (1 + _exp(-x))
        case .silu: x / (1 + _exp(-x))
        }
        return min(max(y, e.min), e.max)
    }

    static func binary(_ op: BinaryOp, _ a: Constant, _ b: Constant, shape: [Int]) -> Constant {
        let (fa, fb) = (a.floats, b.floats)
        var out = [Float](repeating: 0, count: elementCount(shape))
        forEach(shape, broadcastStrides(a.shape, to: shape), broadcastStrides(b.shape, to: shape)) { i, ia, ib in
            out[i] = apply(op, fa[ia], fb[ib])
        }
        return Constant(shape: shape, values: .float(out))
    }

    static func unary(_ op: Epilogue, _ x: Constant) -> Constant {
        Constant(shape: x.shape, values: .float(x.floats.map { apply(op, $0) }))
    }

    static func concat(_ parts: [Constant], axis: Int, shape: [Int]) -> Constant {
        let outer = elementCount(Array(shape[..<axis]))
        func chunks<T>(_ values: [[T]]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(elementCount(shape))
            for o in 0..<outer {
                for (part, v) in zip(parts, values) {
                    let inner = elementCount(Array(part.shape[axis...]))
                    out.append(contentsOf: v[(o * inner)..<((o + 1) * inner)])
                }
            }
            return out
        }
        if parts.allSatisfy({ $0.ints != nil }) {
            return Constant(shape: shape, values: .int64(chunks(parts.map { $0.ints!.map { Int64($0) } })))
        }
        return Constant(shape: shape, values: .float(chunks(parts.map(\.floats))))
    }

    static func transpose(_ x: Constant, perm: [Int]) -> Constant {
        let shape = perm.map { x.shape[$0] }
        let inStrides = strides(x.shape)
        let permuted = perm.map { inStrides[$0] }
        var order = [Int](repeating: 0, count: x.count)
        forEach(shape, permuted, permuted) { i, source, _ in order[i] = source }
        switch x.values {
        case let .float(v): return Constant(shape: shape, values: .float(order.map { v[$0] }))
        case let .int64(v): return Constant(shape: shape, values: .int64(order.map { v[$0] }))
        }
    }

    static func pad(_ x: Constant, mode: PadMode, pads: [Int], fill: Float) -> Constant {
        let map = PadMap(inputShape: x.shape, pads: pads, mode: mode)
        var out = [Float](repeating: 0, count: elementCount(map.outputShape))
        x.floats.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { map.apply(source.baseAddress!, $0.baseAddress!, fill: fill) }
        }
        return Constant(shape: map.outputShape, values: .float(out))
    }

    static func gather(_ data: Constant, indices: [Int], indexShape: [Int], axis: Int, node: String) throws(EngineError) -> Constant {
        let outer = elementCount(Array(data.shape[..<axis]))
        let inner = elementCount(Array(data.shape[(axis + 1)...]))
        let size = data.shape[axis]
        var order: [Int] = []
        for o in 0..<outer {
            for var index in indices {
                if index < 0 { index += size }
                guard (0..<size).contains(index) else {
                    throw .invalidModel("node '\(node)': Gather index \(index) out of range 0..<\(size)")
                }
                order.append(contentsOf: ((o * size + index) * inner)..<((o * size + index + 1) * inner))
            }
        }
        let shape = Array(data.shape[..<axis]) + indexShape + Array(data.shape[(axis + 1)...])
        switch data.values {
        case let .float(v): return Constant(shape: shape, values: .float(order.map { v[$0] }))
        case let .int64(v): return Constant(shape: shape, values: .int64(order.map { v[$0] }))
        }
    }
}

/// Pad's index arithmetic, worked out once: for each axis and output position, the input index
/// it copies (reflect, edge and wrap fold out-of-range indices back in), or -1 for the fill value.
struct PadMap: Sendable {
    let inputShape: [Int], outputShape: [Int]
    let sources: [[Int]]
    private let inputStrides: [Int]

    init(inputShape: [Int], pads: [Int], mode: PadMode) {
        let rank = inputShape.count
        self.inputShape = inputShape
        inputStrides = Reference.strides(inputShape)
        outputShape = (0..<rank).map { inputShape[$0] + pads[$0] + pads[rank + $0] }
        sources = (0..<rank).map { [outputShape] axis in
            let n = inputShape[axis]
            return (0..<outputShape[axis]).map { o in
                let i = o - pads[axis]
                if (0..<n).contains(i) { return i }
                switch mode {
                case .constant: return -1
                case .edge: return i < 0 ? 0 : n - 1
                case .reflect: return i < 0 ? -i : 2 * (n - 1) - i
                case .wrap: return (i % n + n) % n
                }
            }
        }
    }

    /// Writes the padded tensor: row by row of the innermost axis; a row whose outer indices
    /// fall in the padding is all fill. Allocates nothing (it runs per request).
    func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, fill: Float) {
        let rank = outputShape.count
        guard rank > 0 else { y.pointee = x.pointee; return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { index in
            index.initialize(repeating: 0)
            rows(x, y, fill: fill, index: index)
        }
    }

    private func rows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, fill: Float, index: UnsafeMutableBufferPointer<Int>) {
        let rank = outputShape.count, inStrides = inputStrides
        let n = outputShape[rank - 1], inner = sources[rank - 1]
        let rows = n == 0 ? 0 : elementCount(outputShape) / n
        for row in 0..<rows {
            let out = y + row * n
            var offset = 0, inside = true
            for axis in 0..<(rank - 1) {
                let s = sources[axis][index[axis]]
                if s < 0 { inside = false; break }
                offset += s * inStrides[axis]
            }
            if inside {
                for j in 0..<n { out[j] = inner[j] < 0 ? fill : x[offset + inner[j]] }
            } else {
                out.update(repeating: fill, count: n)
            }
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outputShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _exp(_ x: Float) -> Float { expf(x) }
#else
import Foundation
@inline(__always) func _exp(_ x: Float) -> Float { Foundation.exp(x) }
#endif
