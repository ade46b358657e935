#!/usr/bin/env python3
# Writes the 100 distinct JPEGs that scripts/fanin.py sends: crops, flips, scales and quarter turns of the bundled photos.
"""Output: testdata/generated/fanin/fanin_NNN_<photo>.jpg, NNN = 000..099.

The photos are those scripts/make_test_images.py uses (shipped in scikit-image's
wheel, nothing downloaded). Every transform is drawn from one seeded generator,
so a run writes the same bytes each time with the same Pillow; files whose bytes
are already right are left alone and stray fanin_*.jpg files are removed, so a
second run changes nothing.
"""
import hashlib
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_test_images import PHOTOS  # noqa: E402  (the same loaders, so the two sets stay one source)

OUT_DIR = Path(__file__).resolve().parent.parent / "testdata" / "generated" / "fanin"
COUNT = 100
SEED = 20261123
# Sides after scaling: big enough for every model's 224..260 px crop to need a real resize,
# small enough that 100 images decode in well under a second.
MIN_SIDE, MAX_SIDE = 160, 900
QUARTER_TURNS = [None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270]


def image_paths(out_dir: Path = OUT_DIR) -> list:
    """The images in the order fanin.py slices them (sorted by name, which is by number)."""
    return sorted(out_dir.glob("fanin_*.jpg"))


def variant(photo: Image.Image, rng: np.random.Generator) -> tuple:
    """One random (crop, flip, scale, quarter turn) of `photo`, and the JPEG quality to save it at."""
    w, h = photo.size
    cw, ch = (max(MIN_SIDE, round(side * rng.uniform(0.5, 1.0))) for side in (w, h))
    cw, ch = min(cw, w), min(ch, h)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    image = photo.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    scale = rng.uniform(0.6, 1.4)
    # Clamp so the short side stays >= MIN_SIDE and the long side <= MAX_SIDE.
    scale = min(max(scale, MIN_SIDE / min(cw, ch)), MAX_SIDE / max(cw, ch))
    image = image.resize((max(1, round(cw * scale)), max(1, round(ch * scale))), Image.BICUBIC)
    turn = QUARTER_TURNS[int(rng.integers(0, 4))]
    if turn is not None:
        image = image.transpose(turn)
    quality = int(rng.integers(70, 96))  # 70..95 inclusive
    return image, quality


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    photos = {name: Image.fromarray(np.asarray(load())).convert("RGB") for name, load in PHOTOS.items()}
    names = list(photos)
    wanted, digests, written = set(), {}, 0
    for i in range(COUNT):
        name = names[i % len(names)]
        image, quality = variant(photos[name], rng)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        # fanin.py relies on 100 different request bodies; a repeat would be a bug here.
        if digest in digests:
            raise SystemExit(f"image {i} has the same bytes as image {digests[digest]}: change SEED")
        digests[digest] = i
        path = OUT_DIR / f"fanin_{i:03d}_{name}.jpg"
        wanted.add(path.name)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            written += 1
    stale = [p for p in image_paths() if p.name not in wanted]
    for path in stale:
        path.unlink()
    print(f"{OUT_DIR}: {COUNT} images ({written} written, {COUNT - written} unchanged, {len(stale)} stale removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
