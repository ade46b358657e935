# Test setup: import glimpse_client from this checkout, not from an older installed copy.
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
