"""The domain's floors: every import points down (or sideways within one folder), none runs back up,
and nothing outside the standard library is imported (no framework, no driver)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "domain"
FLOORS = {  # higher may import lower; a folder's modules may import each other
    "domain.progress": 0,
    "domain.errors": 0,
    "domain.aio": 0,
    "domain.values": 1,
    "domain.ports": 2,
    "domain.access": 3,
    "domain.connection": 4,
    "domain.hub": 5,
    "domain.gateway": 6,
    "domain.cancels": 6,
    "domain.health": 6,
}


def _unit(module: str) -> str:
    """The floor a module belongs to: its folder, or the module itself at the top of the domain."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(DOMAIN.rglob("*.py")):
        relative = path.relative_to(DOMAIN.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        found.append((name, path))
    return found


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize(("module", "path"), _modules(), ids=str)
def test_every_import_of_the_domain_points_down_or_to_the_standard_library(module: str, path: Path) -> None:
    if module == "domain":
        return
    unit = _unit(module)
    assert unit in FLOORS, f"{module} is on no floor: add its folder to FLOORS"
    for imported in _imports(path):
        top = imported.split(".")[0]
        if top == "domain":
            target = _unit(imported)
            assert target in FLOORS, f"{module} imports {imported}, which is on no floor"
            assert target == unit or FLOORS[target] < FLOORS[unit], (
                f"{module} (floor {FLOORS[unit]}) imports {imported} (floor {FLOORS[target]}): "
                "it runs back up"
            )
        else:
            assert top in sys.stdlib_module_names or top == "__future__", (
                f"{module} imports {imported}: the domain uses the standard library only"
            )
