"""Shared pytest set-up: where the binaries under test live."""
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("MEZZO_BIN", ROOT / "build-test" / "bin"))
