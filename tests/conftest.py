"""Shared pytest set-up: where the binaries under test live, and LeakSanitizer's
suppressions (tests/lsan.supp: leaks of libraries, not mezzo's) for every process the
tests start from the sanitizer build."""
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("MEZZO_BIN", ROOT / "build-test" / "bin"))

_SUPPRESSIONS = ROOT / "tests" / "lsan.supp"
_lsan = os.environ.get("LSAN_OPTIONS", "")
if "suppressions=" not in _lsan:
    os.environ["LSAN_OPTIONS"] = (_lsan + ":" if _lsan else "") + f"suppressions={_SUPPRESSIONS}"
