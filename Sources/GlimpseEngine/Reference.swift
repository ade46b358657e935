// Plain Swift definitions of the ops (constant folding at load, the engine's reference): the shared index
// helpers here, each op's own definition in its file under Operators/ (extension Reference).

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
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _exp(_ x: Float) -> Float { expf(x) }
#else
import Foundation
@inline(__always) func _exp(_ x: Float) -> Float { Foundation.exp(x) }
#endif

