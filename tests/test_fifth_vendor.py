"""The seam holds: a fifth vendor written inside the tests (tests/fifth_vendor/: a vendor module and
its simulator), declared by an installed package's entry points and by nothing else, is picked up
by config validation, the `Vendor` enum, `backends`, the contract suite, `demo` and `query`.

The package is a dist-info directory on PYTHONPATH; each check runs in a fresh interpreter, since
the registries (and the enum built from them) are read at import.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.simulators.people import CUSTOMERS
from gateway.simulators.registry import DEMO_BACKENDS
from tests import test_contract
from tests.fifth_vendor import simulator

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
ENTRY_POINTS = """\
[contact_gateway.vendors]
ringline = tests.fifth_vendor.backend:RinglineBackend

[contact_gateway.simulators]
ringline = tests.fifth_vendor.simulator:DEMO
"""
SHARED = 37  # a customer every built-in vendor holds, and Ringline too


@pytest.fixture(scope="module")
def with_vendor(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of an interpreter in which a package declares the Ringline vendor."""
    site = tmp_path_factory.mktemp("site")
    info = site / "ringline_vendor-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ringline-vendor\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    paths = [str(site), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_config_validation_knows_the_fifth_vendor(with_vendor: dict[str, str], tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("index: false\nbackends:\n  desk: {vendor: ringline, url: 'http://127.0.0.1:9', api_key: k}\n")
    assert run(with_vendor, "-m", "gateway.cli", "check-config", str(good)).stdout.startswith(
        f"OK: {good}: backends desk (ringline)"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("backends:\n  desk: {vendor: ringline, url: 'http://127.0.0.1:9'}\n")
    refused = run(with_vendor, "-m", "gateway.cli", "check-config", str(bad))
    assert refused.returncode == 2 and "backends.desk.api_key: required" in refused.stderr
    without = run({**os.environ, "PYTHONPATH": str(REPO)}, "-m", "gateway.cli", "check-config", str(good))
    assert without.returncode == 2 and "backends.desk.vendor: unknown vendor 'ringline'" in without.stderr


def test_the_vendor_enum_names_the_fifth_vendor(with_vendor: dict[str, str]) -> None:
    sdl = run(with_vendor, "-m", "gateway.cli", "print-schema").stdout
    vendor_enum = re.search(r"enum Vendor \{(.*?)\n\}", sdl, re.S)
    assert vendor_enum is not None
    assert '"""\n  Ringline contacts (a fictional vendor for the tests)' in vendor_enum.group(1)
    assert re.search(r"^  RINGLINE$", vendor_enum.group(1), re.M)


def test_query_and_backends_reach_the_fifth_simulator(with_vendor: dict[str, str], tmp_path: Path) -> None:
    query = tmp_path / "q.graphql"
    query.write_text(
        "query($email: String!) { backends { name vendor capabilities }"
        ' contacts(backends: ["desk"], first: 2) { totalCount edges { node { id vendor } } }'
        " people(filter: {email: $email}) { edges { node { contacts { backend } } } } }"
    )
    variables = json.dumps({"email": CUSTOMERS[SHARED].email})
    done = run(with_vendor, "-m", "gateway.cli", "query", str(query), "--variables", variables)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)["data"]
    assert {"name": "desk", "vendor": "RINGLINE", "capabilities": ["READ"]} in data["backends"]
    assert data["contacts"]["totalCount"] == len(simulator.HELD_CUSTOMERS)
    assert {e["node"]["vendor"] for e in data["contacts"]["edges"]} == {"RINGLINE"}
    [person] = data["people"]["edges"]
    holders = {d.name for d in (*DEMO_BACKENDS, simulator.DEMO) if SHARED in d.customers}
    assert {c["backend"] for c in person["node"]["contacts"]} == holders  # joined across all five


def test_the_contract_suite_runs_for_the_fifth_vendor(with_vendor: dict[str, str]) -> None:
    done = run(with_vendor, "-m", "pytest", "tests/test_contract.py", "-k", "desk", "-v", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout[-3000:]
    passed = set(re.findall(r"::(test_\w+)\[desk\] PASSED", done.stdout))
    assert passed == {name for name in vars(test_contract) if name.startswith("test_")}


def test_the_demo_starts_the_fifth_simulator(with_vendor: dict[str, str]) -> None:
    banner: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--port", "0"],
        cwd=REPO, env=with_vendor, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        try:
            while not banner or not banner[-1].startswith("GraphiQL: "):
                line = process.stdout.readline()
                assert line, f"the demo exited early: {banner}"
                banner.append(line)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    assert f"{len(DEMO_BACKENDS) + 1} simulated vendors" in banner[0]
    assert any(re.match(r"\s+backend desk\s+-> simulator at http://127\.0\.0\.1:\d+", line) for line in banner)
