#!/usr/bin/env python3
# Computes golden inputs and logits with ONNX Runtime for each model in models/ and each golden test image.
"""Needs models/*.onnx (convert_models.py) and testdata/generated/images
(make_test_images.py). Writes, per model, models/goldens/<model>/:
  <entry>.input.f32   the preprocessed input, raw little-endian float32, NCHW [1,3,S,S]
  <entry>.logits.f32  ONNX Runtime's 1000 logits, raw little-endian float32
  index.json          {"model", "input_size", "entries": [{"name", "input", "logits",
                      "image" (file in testdata/generated/images; not for "random"),
                      "top5" (class indices), "top1_label"}]}
The entries are the manifest's "golden" images plus "random", a seeded uniform
[-1, 1] input that exercises the graph without the image code.

It also writes the reference tensors of input recipes no converted model has, for the
NHWC and non-square tests (Tests/PipelineTests/InputLayoutTests.swift), to
testdata/generated/preprocess/:
  <recipe>/<image name>.f32  the preprocessed input, raw little-endian float32, in the
                             recipe's layout: [1,3,H,W] (NCHW) or [1,H,W,3] (NHWC)
  index.json                 {"recipes": [{"name", "height", "width", "layout",
                             "resize_ratio", "mean", "std", "entries": [{"image", "tensor"}]}]}
Their mean/std and resize ratio are the engine's defaults for a model without glimpse.*
metadata (ImageNet's, 0.875), which is what the tests' tiny models are.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from reference_preprocess import reference_preprocess

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
IMAGES_DIR = ROOT / "testdata" / "generated" / "images"
GOLDENS_DIR = MODELS_DIR / "goldens"
PREPROCESS_DIR = ROOT / "testdata" / "generated" / "preprocess"
RANDOM_SEED = 1234

# ClassifierInfo.defaultMean / defaultStd / defaultResizeRatio (Sources/GlimpseEngine/Repository.swift).
DEFAULT_MEAN = [123.675, 116.28, 103.53]
DEFAULT_STD = [58.395, 57.12, 57.375]
DEFAULT_RESIZE_RATIO = 0.875
# (name, H, W, layout): a tf2onnx-style NHWC input, a landscape and a portrait non-square NCHW one,
# and a non-square NHWC one. 240x320 takes the square and the near-square photos (retina,
# hubble) by their width, not their short side, which moves the DCT scale choice.
RECIPES = [
    ("nhwc_224x224", 224, 224, "NHWC"),
    ("nchw_240x320", 240, 320, "NCHW"),
    ("nchw_320x240", 320, 240, "NCHW"),
    ("nhwc_180x300", 180, 300, "NHWC"),
]


class ReferenceModel:
    """An ONNX Runtime session plus the preprocessing and labels from the model's glimpse.* metadata."""

    def __init__(self, path):
        options = ort.SessionOptions()
        # One thread keeps the summation order, and so the logits, the same on every run;
        # no graph rewrites, so the goldens are the graph as written (BN not folded).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.name = meta["glimpse.name"]
        self.input_size = int(meta["glimpse.input_size"])
        self.resize_ratio = float(meta["glimpse.resize_ratio"])
        self.mean = [float(v) for v in meta["glimpse.mean"].split(",")]
        self.std = [float(v) for v in meta["glimpse.std"].split(",")]
        self.labels = meta["glimpse.labels"].split("\n")

    def preprocess(self, image_path):
        return reference_preprocess(image_path, self.input_size, self.resize_ratio, self.mean, self.std)

    def logits(self, x):
        return self.session.run(["logits"], {"input": x})[0].reshape(-1)

    def top5(self, logits):
        return [int(i) for i in np.argsort(-logits, kind="stable")[:5]]


def model_paths():
    paths = sorted(MODELS_DIR.glob("*.onnx"))
    if not paths:
        sys.exit(f"no models in {MODELS_DIR}: run scripts/convert_models.py first")
    return paths


def golden_images():
    manifest = json.loads((IMAGES_DIR / "manifest.json").read_text())
    return [entry for entry in manifest["images"] if entry["golden"]]


def write_goldens(model, images):
    out = GOLDENS_DIR / model.name
    # Start empty, so entries dropped from the manifest do not linger.
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    s = model.input_size
    inputs = [(image["name"], image["file"], model.preprocess(IMAGES_DIR / image["file"])) for image in images]
    rng = np.random.default_rng(RANDOM_SEED)
    inputs.append(("random", None, rng.uniform(-1.0, 1.0, (1, 3, s, s)).astype(np.float32)))

    entries = []
    for name, image_file, x in inputs:
        logits = model.logits(x)
        top5 = model.top5(logits)
        x.astype("<f4").tofile(out / f"{name}.input.f32")
        logits.astype("<f4").tofile(out / f"{name}.logits.f32")
        entry = {"name": name, "input": f"{name}.input.f32", "logits": f"{name}.logits.f32"}
        if image_file:
            entry["image"] = image_file
        entry.update(top5=top5, top1_label=model.labels[top5[0]])
        entries.append(entry)
        print(f"{model.name} {name:16} {top5[0]:4} {model.labels[top5[0]]}")
    index = {"model": model.name, "input_size": s, "entries": entries}
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")


def write_recipe_references(images):
    shutil.rmtree(PREPROCESS_DIR, ignore_errors=True)
    recipes = []
    for name, height, width, layout in RECIPES:
        (PREPROCESS_DIR / name).mkdir(parents=True)
        entries = []
        for image in images:
            x = reference_preprocess(IMAGES_DIR / image["file"], (height, width), DEFAULT_RESIZE_RATIO,
                                     DEFAULT_MEAN, DEFAULT_STD, layout)
            tensor = f"{name}/{image['name']}.f32"
            x.astype("<f4").tofile(PREPROCESS_DIR / tensor)
            entries.append({"image": image["file"], "tensor": tensor})
        recipes.append({"name": name, "height": height, "width": width, "layout": layout,
                        "resize_ratio": DEFAULT_RESIZE_RATIO, "mean": DEFAULT_MEAN, "std": DEFAULT_STD,
                        "entries": entries})
        print(f"preprocess {name}: {len(entries)} reference tensors")
    (PREPROCESS_DIR / "index.json").write_text(json.dumps({"recipes": recipes}, indent=2) + "\n")


def main():
    images = golden_images()
    for path in model_paths():
        write_goldens(ReferenceModel(path), images)
    write_recipe_references(images)


if __name__ == "__main__":
    sys.exit(main())
