#!/usr/bin/env python3
# Prints ONNX Runtime's top-5 per model and golden image; fails if the cat or the coffee is misread.
"""A wrong conversion (padding, BN epsilon, weight layout, normalization) still
runs but misclassifies, so this is the check that models/*.onnx are right.
"""
import sys

import numpy as np

from make_goldens import IMAGES_DIR, ReferenceModel, golden_images, model_paths

# What the top-1 must be: the cat (a tabby) any domestic cat class, the coffee espresso, cup or mug.
EXPECTED_TOP1 = {"cat": set(range(281, 286)), "coffee": {504, 967, 968}}


def main():
    images = golden_images()
    failures = []
    for path in model_paths():
        model = ReferenceModel(path)
        for image in images:
            logits = model.logits(model.preprocess(IMAGES_DIR / image["file"]))
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            top5 = model.top5(logits)
            print(f"{model.name} {image['name']}:")
            for i in top5:
                print(f"  {i:4} {probs[i]:6.1%}  {model.labels[i]}")
            if top5[0] not in EXPECTED_TOP1.get(image["name"], {top5[0]}):
                failures.append(f"{model.name}/{image['name']}: top-1 is {top5[0]} {model.labels[top5[0]]}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
