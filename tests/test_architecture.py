"""Architecture rules (DESIGN.md), checked on the source rather than trusted:

(a) no service package imports another service package (services hand claims along as events only);
(b) every module under services/*/src/*/domain/ imports, in a fresh interpreter, without loading a database,
    web, Kafka or HTTP client library: domain logic stays pure;
(c) no test under services/<a>/tests imports another service's package rcm_<b>: cross-service tests live in
    tests/ (e.g. tests/cross_service/);
(d) routers are thin: no services/*/src/*/api.py imports sqlalchemy or its service's `db` module, or uses
    `RuntimeDep` (it calls use cases handed out as `Provided[...]`; queries live in the use-case objects).

Libraries (libs/*: rcm_contracts, rcm_runtime, ...) may be imported by anyone; only service packages count.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES_DIR = ROOT / "services"
# the imports a domain module must not pull in, directly or through what it imports
FORBIDDEN_IN_DOMAIN = ("sqlalchemy", "fastapi", "aiokafka", "httpx", "asyncpg")


def _service_packages() -> dict[str, Path]:
    """service folder name -> its package folder (services/<name>/src/<package>/)."""
    found = {}
    for src in sorted(SERVICES_DIR.glob("*/src")):
        [package] = [p for p in src.iterdir() if (p / "__init__.py").is_file()]
        found[src.parent.name] = package
    return found


SERVICES = _service_packages()
SERVICE_PACKAGES = frozenset(p.name for p in SERVICES.values())
# `import sys, rcm_x` / `from rcm_x.y import z` written inside a string (a probe run with `python -c`)
_IMPORT_IN_TEXT = re.compile(r"\bimport\s+([\w.]+(?:\s*,\s*[\w.]+)*)|\bfrom\s+(rcm_\w+)")


def imported_packages(source: str) -> set[str]:
    """Top-level names of every module `source` imports: import statements anywhere (also inside
    functions), importlib.import_module / __import__ with a literal name, and imports written in strings."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for imported, from_package in _IMPORT_IN_TEXT.findall(node.value):
                names.update(n.strip().split(".")[0] for n in imported.split(",") if n.strip().startswith("rcm_"))
                names.update([from_package] if from_package else [])
    return names


def foreign_service_imports(folder: Path, own_package: str) -> list[str]:
    """`path: rcm_<b>` for every Python file under `folder` importing a service package other than its own."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        others = imported_packages(path.read_text(encoding="utf-8")) & (SERVICE_PACKAGES - {own_package})
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        found += [f"{shown}: {name}" for name in sorted(others)]
    return found


def thin_router_violations(source: str, own_package: str) -> list[str]:
    """What makes an api.py more than a thin router: `import sqlalchemy...` / `from sqlalchemy... import`,
    importing its own package's `db` module (`from rcm_x.db import t`, `from rcm_x import db`, `import rcm_x.db`,
    also inside functions) and any use of `RuntimeDep` (imported or referenced)."""
    db_module = f"{own_package}.db"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    found.append((node.lineno, f"imports {alias.name}"))
                elif alias.name == db_module or alias.name.startswith(db_module + "."):
                    found.append((node.lineno, f"imports {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "sqlalchemy":
                found.append((node.lineno, f"imports from {node.module}"))
            elif node.module == db_module or node.module.startswith(db_module + "."):
                found.append((node.lineno, f"imports from {node.module}"))
            elif node.module == own_package and any(a.name == "db" for a in node.names):
                found.append((node.lineno, f"imports {db_module}"))
            found += [(node.lineno, "imports RuntimeDep") for a in node.names if a.name == "RuntimeDep"]
        elif isinstance(node, ast.Name) and node.id == "RuntimeDep":
            found.append((node.lineno, "uses RuntimeDep"))
        elif isinstance(node, ast.Attribute) and node.attr == "RuntimeDep":
            found.append((node.lineno, "uses RuntimeDep"))
    return [f"line {line}: {what}" for line, what in sorted(found, key=lambda f: f[0])]


def test_every_service_has_one_package():
    assert len(SERVICES) >= 9
    assert all(package.name == "rcm_" + service.replace("-", "_") for service, package in SERVICES.items())


# ---------------------------------------------------------------- (a) services import no other service
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_package_imports_no_other_service(service):
    package = SERVICES[service]
    assert foreign_service_imports(package, package.name) == []


# ---------------------------------------------------------------- (b) domain modules stay pure
def _domain_modules() -> list[str]:
    modules = []
    for package in SERVICES.values():
        for path in sorted((package / "domain").rglob("*.py")):
            parts = path.relative_to(package.parent).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


DOMAIN_MODULES = _domain_modules()

# One interpreter imports what every domain module shares (pydantic, the contracts), checks that this
# loads nothing forbidden, then forks a child per module: each child imports its module alone and reports
# which forbidden libraries are loaded. Exact like one interpreter per module, at a fraction of the time.
_PROBE = r"""
import importlib, json, os, sys
forbidden, modules = sys.argv[1].split(","), sys.argv[2:]
def loaded():
    return sorted(n for n in forbidden if n in sys.modules)
import pydantic, rcm_contracts.claim, rcm_contracts.events
results = {"<shared>": {"ok": True, "loaded": loaded()}}
for module in modules:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(module)
            out = {"ok": True, "loaded": loaded()}
        except BaseException as exc:
            out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as pipe:
        results[module] = json.loads(pipe.read() or '{"ok": false, "error": "the child died"}')
    os.waitpid(pid, 0)
print(json.dumps(results))
"""


def probe_imports(modules: list[str]) -> dict[str, dict]:
    """module -> {"ok", "loaded": forbidden libraries in sys.modules after importing it alone} (or "error")."""
    done = subprocess.run([sys.executable, "-c", _PROBE, ",".join(FORBIDDEN_IN_DOMAIN), *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert results.pop("<shared>")["loaded"] == [], "the probe's shared imports already load infrastructure"
    return results


@pytest.fixture(scope="module")
def domain_imports() -> dict[str, dict]:
    return probe_imports(DOMAIN_MODULES)


def test_there_are_domain_modules_to_check():
    assert len(DOMAIN_MODULES) >= len(SERVICES)


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_module_imports_without_infrastructure(module, domain_imports):
    result = domain_imports[module]
    assert result["ok"], f"importing {module} failed: {result['error']}"
    assert result["loaded"] == [], f"importing {module} loads infrastructure libraries"


# ---------------------------------------------------------------- (c) service tests stay in their service
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_tests_import_no_other_service(service):
    tests = SERVICES_DIR / service / "tests"
    assert foreign_service_imports(tests, SERVICES[service].name) == [], "move cross-service tests to tests/"


# ---------------------------------------------------------------- (d) routers are thin
API_MODULES = {service: package / "api.py" for service, package in SERVICES.items() if (package / "api.py").is_file()}


def test_there_are_routers_to_check():
    assert len(API_MODULES) >= len(SERVICES) - 1


# Known, older than this check: these api.py import their db module only to hand one table to the shared
# rcm_runtime.reads.stage_read_router (no query of their own). Building that router in app.py (as remittance
# does) removes the import; then drop the service from this set (the test fails until it is dropped).
READ_ROUTER_TABLE_IMPORTS = frozenset({"charges", "coding", "denials", "eligibility", "patient-billing", "sandbox",
                                       "scrubber", "submission"})


@pytest.mark.parametrize("service", sorted(API_MODULES))
def test_router_runs_no_sql_and_reaches_no_runtime(service):
    package = SERVICES[service].name
    found = thin_router_violations(API_MODULES[service].read_text(encoding="utf-8"), package)
    if service in READ_ROUTER_TABLE_IMPORTS:
        known = [f for f in found if f.endswith(f": imports from {package}.db")]
        assert len(known) == 1, f"{service}: no longer imports its db module: drop it from READ_ROUTER_TABLE_IMPORTS"
        found.remove(known[0])
    assert found == [], "move the query into a use-case object handed out as Provided[...] (rt.provide in app.py)"


def test_the_known_read_router_imports_are_services():
    assert READ_ROUTER_TABLE_IMPORTS <= set(API_MODULES)


# ---------------------------------------------------------------- the checks themselves
def test_the_import_scan_finds_every_form_of_import():
    source = '''
import rcm_charges.domain.claim_builder
from rcm_coding.domain import icd10
from . import sibling
import importlib

def late():
    from rcm_denials import root_cause
    importlib.import_module("rcm_remittance.service")
    __import__("rcm_analytics")

PROBE = "import sys, rcm_scrubber.domain.engine; print(1)"
'''
    assert imported_packages(source) == {"rcm_charges", "rcm_coding", "importlib", "rcm_denials", "rcm_remittance",
                                         "rcm_analytics", "rcm_scrubber"}


def test_a_foreign_service_import_is_reported(tmp_path):
    (tmp_path / "test_mixed.py").write_text("from rcm_charges.domain.claim_builder import build_claim\n"
                                            "from rcm_submission.service import Identity\n"
                                            "from rcm_contracts.claim import Claim\n")
    found = foreign_service_imports(tmp_path, "rcm_submission")
    assert [line.rsplit(": ", 1)[1] for line in found] == ["rcm_charges"]


def test_a_module_loading_infrastructure_is_reported():
    results = probe_imports(["rcm_runtime.db", "rcm_contracts.compat", "rcm_no_such_module"])
    assert "sqlalchemy" in results["rcm_runtime.db"]["loaded"]  # the engine factory: SQLAlchemy by design
    assert results["rcm_contracts.compat"] == {"ok": True, "loaded": []}
    assert not results["rcm_no_such_module"]["ok"]


def test_a_router_running_sql_or_reaching_the_runtime_is_reported():
    source = '''
import uuid
import sqlalchemy.dialects.postgresql
from sqlalchemy import select
from rcm_runtime.app import Provided, RuntimeDep
from rcm_runtime import app as runtime_app
from rcm_remittance.db import posted_payments
from rcm_remittance import db, service
from rcm_charges.db import encounters

async def route(rt: RuntimeDep, other: runtime_app.RuntimeDep):
    import rcm_remittance.db
'''
    found = thin_router_violations(source, "rcm_remittance")
    assert found == ["line 3: imports sqlalchemy.dialects.postgresql", "line 4: imports from sqlalchemy",
                     "line 5: imports RuntimeDep", "line 7: imports from rcm_remittance.db",
                     "line 8: imports rcm_remittance.db", "line 11: uses RuntimeDep", "line 11: uses RuntimeDep",
                     "line 12: imports rcm_remittance.db"]
    clean = ("from rcm_runtime.app import Provided\nfrom rcm_remittance.service import Remittance\n"
             "from rcm_remittance.domain.ledger import totals\n")
    assert thin_router_violations(clean, "rcm_remittance") == []
