"""Create the project's virtual environment from requirements.txt when needed and re-run inside it.

Only the standard library is used here: this runs before any dependency is installed. Set
CRM_UPLIFT_NO_VENV=1 to use the current interpreter as it is (an environment you manage yourself).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def inside_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


SPARK_VENV = ROOT / ".venv-spark"
SPARK_REQUIREMENTS = ROOT / "requirements-spark.txt"


def ensure_spark_env() -> Path:
    """The dbt executable of .venv-spark (dbt-spark with PySpark, pinned in requirements-spark.txt), created on
    first use: Spark is optional, so the main environment does not carry PySpark's few hundred MB."""
    python = SPARK_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = SPARK_VENV / ".requirements.sha256"
    digest = hashlib.sha256(SPARK_REQUIREMENTS.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text().strip() == digest and python.exists()):
        if not python.exists():
            print(f"creating the Spark environment in {SPARK_VENV} ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(SPARK_VENV)], check=True)
        print("installing dbt-spark and PySpark (first Spark run only) ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(SPARK_REQUIREMENTS)], check=True)
        stamp.write_text(digest + "\n")
    return python.parent / ("dbt.exe" if os.name == "nt" else "dbt")


def ensure_venv() -> None:
    """Makes sure the code that follows runs in .venv with the pinned requirements installed."""
    if os.environ.get("CRM_UPLIFT_NO_VENV") == "1":
        return
    digest = requirements_digest()
    up_to_date = STAMP.exists() and STAMP.read_text().strip() == digest and venv_python().exists()
    if inside_venv() and up_to_date:
        return
    if not up_to_date:
        if not venv_python().exists():
            print(f"creating the virtual environment in {VENV} ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        print("installing the pinned requirements (first run only) ...", flush=True)
        subprocess.run(
            [str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(REQUIREMENTS)],
            check=True,
        )
        STAMP.write_text(digest + "\n")
    if not inside_venv():
        python = str(venv_python())
        os.execv(python, [python, *sys.argv])
