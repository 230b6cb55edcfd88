"""npm packages for the client-side end-to-end tests, installed once into a cache outside the repo.

Nothing from npm is copied into this repository: the packages live under
`~/.cache/contact-gateway/npm` (or `$CONTACT_GATEWAY_NPM_CACHE`), and a test without node or npm
is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).parent / "js"


def npm_cache() -> Path:
    default = Path.home() / ".cache" / "contact-gateway" / "npm"
    return Path(os.environ.get("CONTACT_GATEWAY_NPM_CACHE", default))


def npm_modules(*packages: str) -> Path:
    """The node_modules directory holding `packages` (name@version), installing what is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run a real JavaScript client; neither is installed here")
    prefix = npm_cache()
    modules = prefix / "node_modules"
    missing = [spec for spec in packages if not _installed(modules, spec)]
    if missing:
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), *missing],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"npm install {' '.join(missing)} failed: {done.stderr.strip()[-300:]}")
    return modules


def _installed(modules: Path, spec: str) -> bool:
    name, _, version = spec.rpartition("@") if spec.count("@") > spec.startswith("@") else (spec, "", "")
    manifest = modules / name / "package.json"
    if not manifest.exists():
        return False
    import json

    found = json.loads(manifest.read_text(encoding="utf-8")).get("version", "")
    return not version or found == version or found.startswith(version + ".")


def run_node(script: str, *args: str, modules: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one of tests/js/ with `modules` on its require path."""
    return subprocess.run(
        ["node", str(JS_DIR / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NODE_PATH": str(modules)},
        check=False,
    )
