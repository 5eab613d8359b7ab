"""Runs every C unit test binary (cmocka) as one pytest case each, so `make test`
has a single runner and a single summary line."""
import subprocess

import pytest

from conftest import BIN

UNIT_DIR = BIN / "tests"
BINARIES = sorted(p for p in UNIT_DIR.glob("test_*") if p.is_file()) if UNIT_DIR.is_dir() else []


@pytest.mark.parametrize("binary", BINARIES, ids=[b.name for b in BINARIES])
def test_unit(binary):
    proc = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{binary.name} failed:\n{proc.stdout}\n{proc.stderr}"


def test_unit_binaries_exist():
    assert BINARIES, f"no unit test binaries under {UNIT_DIR}"
