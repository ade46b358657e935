#!/usr/bin/env python3
# Writes the test JPEGs (bundled scikit-image photos plus odd cases made from the cat) and their manifest.
"""Output: testdata/generated/images/*.jpg and manifest.json. Every image comes
from files scikit-image ships in its wheel, so nothing is downloaded; the
output is byte-for-byte the same on each run with the same Pillow.
"""
import json
import sys
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

OUT_DIR = Path(__file__).resolve().parent.parent / "testdata" / "generated" / "images"
QUALITY = 90

# name: loader of a colour photo bundled with scikit-image (these need no pooch download).
PHOTOS = {
    "cat": skimage.data.chelsea,
    "coffee": skimage.data.coffee,
    "astronaut": skimage.data.astronaut,
    "rocket": skimage.data.rocket,
    "motorcycle": lambda: skimage.data.stereo_motorcycle()[0],
    "hubble": skimage.data.hubble_deep_field,
    "retina": skimage.data.retina,
}


def variants(cat):
    """Awkward JPEGs made from the cat: (name, image, save options, golden?)."""
    w, h = cat.size
    large = cat.resize((2400, round(h * 2400 / w)), Image.BICUBIC)  # ~5x: big enough for 1/2..1/8 DCT scaling
    return [
        ("cat_gray", cat.convert("L"), {}, True),
        # Pillow writes Adobe-style (inverted) CMYK with an APP14 marker, as Photoshop does.
        ("cat_cmyk", cat.convert("CMYK"), {}, True),
        ("cat_progressive", cat, {"progressive": True}, True),
        ("cat_large", large, {}, True),
        ("tiny_1x1", cat.crop((w // 2, h // 2, w // 2 + 1, h // 2 + 1)), {}, False),
    ]


def save(name, image, options, photo, golden, manifest):
    path = OUT_DIR / f"{name}.jpg"
    image.save(path, "JPEG", quality=QUALITY, **options)
    manifest.append({
        "name": name,
        "file": path.name,
        "width": image.width,
        "height": image.height,
        "color_space": {"RGB": "rgb", "L": "gray", "CMYK": "cmyk"}[image.mode],
        "progressive": bool(options.get("progressive")),
        "photo": photo,
        # Whether make_goldens.py computes reference logits for it.
        "golden": golden,
    })


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    manifest = []
    photos = {name: Image.fromarray(np.asarray(load())) for name, load in PHOTOS.items()}
    for name, image in photos.items():
        save(name, image, {}, True, True, manifest)
    for name, image, options, golden in variants(photos["cat"]):
        save(name, image, options, False, golden, manifest)
    (OUT_DIR / "manifest.json").write_text(json.dumps({"images": manifest}, indent=2) + "\n")
    for entry in manifest:
        print(f"{entry['file']:22} {entry['width']:4}x{entry['height']:<4} {entry['color_space']}")


if __name__ == "__main__":
    sys.exit(main())
