// Logits → the k most likely classes with softmax probabilities.
import Foundation

public struct Prediction: Sendable, Codable, Equatable {
    public var index: Int
    /// The class's name; empty when the model has no labels (the index is all there is).
    public var label: String
    public var probability: Float

    public init(index: Int, label: String, probability: Float) {
        (self.index, self.label, self.probability) = (index, label, probability)
    }
}

/// The `k` largest logits, largest first, with probabilities from a softmax over all of them.
public func topPredictions(_ logits: UnsafeBufferPointer<Float>, k: Int, labels: [String]) -> [Prediction] {
    guard let peak = logits.max() else { return [] }
    var sum: Float = 0
    for value in logits { sum += _exp(value - peak) }
    // A partial selection: k is small and there are ~1000 classes.
    var best: [(index: Int, logit: Float)] = []
    for (index, value) in logits.enumerated() where best.count < k || value > best[best.count - 1].logit {
        let at = best.firstIndex { value > $0.logit } ?? best.count
        best.insert((index, value), at: at)
        if best.count > k { best.removeLast() }
    }
    return best.map { entry in
        Prediction(index: entry.index, label: entry.index < labels.count ? labels[entry.index] : "",
                   probability: _exp(entry.logit - peak) / sum)
    }
}

public func topPredictions(_ logits: [Float], k: Int, labels: [String]) -> [Prediction] {
    logits.withUnsafeBufferPointer { topPredictions($0, k: k, labels: labels) }
}
