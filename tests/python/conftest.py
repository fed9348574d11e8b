"""Shared pytest fixtures: the scripts are importable as modules, and one small generated shop is built once."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
