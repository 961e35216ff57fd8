"""Architecture of rcm_x12: no import cycles, no service plumbing, and no X12 left in rcm_runtime.

Imports are read with `ast` (every import statement, module level or inside a function), so a cycle that
only shows at run time through a lazy import is still found. What importing the package really loads is
checked in a fresh interpreter, where nothing else (pytest, other tests) has loaded those modules first.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import rcm_runtime
import rcm_x12

SRC = Path(rcm_x12.__file__).resolve().parent  # libs/x12/src/rcm_x12
RUNTIME_SRC = Path(rcm_runtime.__file__).resolve().parent  # libs/runtime/src/rcm_runtime
FORBIDDEN = ("sqlalchemy", "fastapi", "aiokafka", "httpx")
SERVICES = ("rcm_analytics", "rcm_charges", "rcm_coding", "rcm_denials", "rcm_eligibility", "rcm_patient_billing",
            "rcm_remittance", "rcm_sandbox", "rcm_scrubber", "rcm_submission")
# pyx12 is data for rcm_x12.ig (its XML maps, found through the package); its validating code never loads.
PYX12_CODE = ("pyx12.x12n_document", "pyx12.map_if", "pyx12.validation", "pyx12.error_handler", "pyx12.x12file")


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def modules(root: Path, package: str) -> dict[str, Path]:
    return {module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}


def imported(path: Path, name: str) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved against `name`)."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def x12_graph() -> dict[str, set[str]]:
    known = modules(SRC, "rcm_x12")
    return {name: {m for m in imported(path, name) if m in known and m != name} for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


# ---------------------------------------------------------------- (a) no import cycle


def test_the_graph_is_read():
    graph = x12_graph()
    assert {"rcm_x12.codec", "rcm_x12.format", "rcm_x12.ig.validator", "rcm_x12.claim_837p.write"} <= set(graph)
    assert "rcm_x12.claim_837p.check" in graph["rcm_x12.claim_837p.write"]
    assert "rcm_x12.ig.rules" in graph["rcm_x12.ig.maps"]


def test_no_import_cycle_among_rcm_x12_modules():
    cycle = find_cycle(x12_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_validator_does_not_import_the_pyx12_oracle():
    for name, path in modules(SRC, "rcm_x12").items():
        assert not any("oracle" in m or m.startswith("tests") for m in imported(path, name)), name


def test_only_rcm_runtime_errors_is_imported_from_rcm_runtime():
    for name, path in modules(SRC, "rcm_x12").items():
        runtime = {m for m in imported(path, name) if m == "rcm_runtime" or m.startswith("rcm_runtime.")}
        assert runtime <= {"rcm_runtime.errors", "rcm_runtime.errors.DomainError"}, (name, runtime)


# ---------------------------------------------------------------- (b) what importing rcm_x12 loads


def test_importing_every_module_loads_no_service_plumbing():
    names = sorted(modules(SRC, "rcm_x12"))
    script = (
        "import importlib, json, sys\n"
        f"names = {names!r}\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "from rcm_x12.ig.validator import IgValidator\n"
        "IgValidator.for_transaction('837', '005010X222A1')  # compiles a map: reads pyx12's XML\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert set(names) <= loaded
    top = {m.split(".")[0] for m in loaded}
    assert not top & set(FORBIDDEN), sorted(top & set(FORBIDDEN))
    assert not top & set(SERVICES), sorted(top & set(SERVICES))
    assert {m for m in loaded if m.startswith("rcm_runtime")} <= {"rcm_runtime", "rcm_runtime.errors"}
    assert not [m for m in loaded if m.startswith(PYX12_CODE)]


# ---------------------------------------------------------------- (c) rcm_runtime holds no X12


def test_rcm_runtime_has_no_x12_module():
    found = modules(RUNTIME_SRC, "rcm_runtime")
    assert found, RUNTIME_SRC
    assert not [name for name in found if name.split(".")[-1].startswith("x12")]
    for name, path in found.items():
        assert not {m for m in imported(path, name) if m.startswith(("rcm_x12", "pyx12"))}, name
        strings = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str)}
        assert not {s for s in strings if s.startswith("ISA")}, f"{name} handles ISA segments"
