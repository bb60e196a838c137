"""The code base stays one that a newcomer can read: modules of one concern and bounded size, no
reaching into another module's private names, no backend chosen at import, papers cited by name.

Each check reads the checkout's files; a failure names the files and lines to fix.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO

LIBRARY = REPO / "workflow" / "modedrop"
MAX_LINES = 550
# Our own packages: a private name of one of their modules is private to that module.
OWN_PACKAGES = ("modedrop", "benchmarks")
# "seed" means a random seed here; the source documents are cited by author and title.
SEED_AS_DOCUMENT = re.compile(r"seed (document|study|paper|00[0-9])", re.IGNORECASE)


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def own_module(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in OWN_PACKAGES


def imported_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> our module it refers to, for every ``import``/``from ... import``."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if own_module(alias.name):
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and own_module(node.module):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def private_references(path: Path, root: Path = REPO) -> list[str]:
    """``from our.module import _name``, imports of ``our._module`` and ``module._name``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases = imported_aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and own_module(node.module):
            names = node.module.split(".") + [a.name for a in node.names]
            found += [
                f"{node.lineno}: from {node.module} import {n}" for n in names if is_private(n)
            ]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if own_module(alias.name) and any(map(is_private, alias.name.split("."))):
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return [f"{path.relative_to(root)}:{line}" for line in found]


def test_no_library_or_benchmark_module_is_longer_than_the_limit():
    long = {
        str(p.relative_to(REPO)): n
        for p in python_files("workflow/modedrop", "benchmarks")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules along their concerns (<= {MAX_LINES} lines): {long}"


def test_no_module_uses_another_modules_private_names():
    found = [
        ref
        for p in python_files("workflow", "benchmarks", "tests")
        for ref in private_references(p)
    ]
    assert not found, "make these names public in the module that owns them:\n" + "\n".join(found)


def test_the_check_finds_planted_private_references(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import modedrop.plots as p\n"
        "from modedrop.figure_style import _x, public\n"
        "from modedrop.metrics import _checks\n"
        "p._y\n"
        "import numpy as np\n"
        "np._z\n"
    )
    assert private_references(planted, tmp_path) == [
        "planted.py:2: from modedrop.figure_style import _x",
        "planted.py:3: from modedrop.metrics import _checks",
        "planted.py:4: p._y",
    ]


def test_no_library_module_chooses_a_matplotlib_backend_at_import():
    found = []
    for path in python_files("workflow/modedrop"):
        for node in ast.parse(path.read_text()).body:  # module level only
            call = node.value if isinstance(node, ast.Expr) else None
            if isinstance(call, ast.Call) and ast.unparse(call.func) == "matplotlib.use":
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, f"choose the backend in the script, not at library import: {found}"


@pytest.mark.parametrize(
    "folder", ["workflow", "config", "docs", "README.md", ".test", "tests", "benchmarks"]
)
def test_source_documents_are_cited_by_name_not_as_seeds(folder):
    root = REPO / folder
    files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in files
        if path.suffix in {".py", ".smk", ".md", ".yaml", ".yml", ".rst", ".txt", ""}
        and "egg-info" not in str(path)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if SEED_AS_DOCUMENT.search(line)
    ]
    assert not found, "cite the work by author and title (docs/references.md):\n" + "\n".join(found)
