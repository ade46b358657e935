"""`python -m glimpse_client URL IMAGE...`: classify JPEG files on a Glimpse server, printed like `glimpse classify`."""

from __future__ import annotations

import argparse
import json
import struct
import sys

from .client import Client
from .status import GlimpseError


def _float32(x: float) -> float:
    """The shortest decimal that is the same float32 (0.3734503, not 0.37345030903816223), as Swift prints it."""
    for digits in range(6, 10):
        y = float(f"{x:.{digits}g}")
        if struct.pack("<f", y) == struct.pack("<f", x):
            return y
    return x


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glimpse_client",
        description="Classify JPEG images on a Glimpse server. Prints each path, then its top classes: "
                    "probability, class index and label.")
    parser.add_argument("url", help="the server, e.g. tcp://127.0.0.1:7000 or ipc:///tmp/glimpse.ipc")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG files")
    parser.add_argument("-m", "--model", default="", help="model name (default: the server's default model)")
    parser.add_argument("--top", type=int, default=5, help="how many classes to print per image (default: 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per image (default: 30)")
    parser.add_argument("--no-cache", action="store_true", help="bypass the server's result cache")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")

    results = []
    with Client(args.url, timeout=args.timeout) as client:
        for path in args.images:
            result = {"image": path, "model": args.model}
            try:
                with open(path, "rb") as f:
                    jpeg = f.read()
                response = client.classify(jpeg, model=args.model, top_k=args.top, cache=not args.no_cache)
            except (OSError, GlimpseError) as e:
                message = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                result["error"] = message
                print(f"glimpse_client: {path}: {message}", file=sys.stderr)
            else:
                result["model"] = response.model
                result["predictions"] = [
                    {"index": c.index, "label": c.label, "probability": _float32(c.probability)} for c in response.classes]
                if not args.json:
                    print(path)
                    for c in response.classes:
                        print(f"  {c.probability * 100:5.1f}%  {c.index:4d}  {c.label}")
            results.append(result)
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
