"""A plain (non-editable) install works: the wheel carries the presets, and the CLI finds them outside a checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installs_with_its_presets(tmp_path: Path) -> None:
    wheels, target, src = tmp_path / "wheels", tmp_path / "site", tmp_path / "src"
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources, never into the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("etl", "mappings"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", str(src), "-w", str(wheels)], check=True, timeout=300)
    (wheel,) = wheels.glob("bme_migrate-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300
    )
    env = {**os.environ, "PYTHONPATH": str(target)}  # ahead of the checkout's editable install
    probe = (
        "import etl.presets.preset as p, sys\n"
        "print(p.DEFAULT_DIR)\n"
        "from etl.cli import main\n"
        "from etl.report.page import _env\n"
        "print(_env().get_template('report.html').filename)\n"
        "print(_env().get_template('style.css').filename)\n"
        "main(['mappings', 'show', 'mailchimp'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(target / "etl" / "presets" / "catalog")
    # the report page's templates ship in the wheel (package-data), not only in a checkout
    templates = target / "etl" / "report" / "templates"
    assert done.stdout.splitlines()[1:3] == [str(templates / "report.html"), str(templates / "style.css")]
    assert (
        "EMAIL" in done.stdout
    )  # Mailchimp's key column, read from the wheel's copy of mappings/mailchimp.toml
