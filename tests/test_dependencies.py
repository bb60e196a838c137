"""Code inputs derived from import statements (modedrop.dependencies), on a planted package."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import REPO
from modedrop.dependencies import code_files

MODULES = {
    "modedrop/__init__.py": "",
    "modedrop/a.py": (
        '"""Usage:\n\n    from modedrop import unused  # in a docstring: not run\n"""\n'
        "import numpy\nfrom modedrop.sub import (\n    b,\n)\n"
    ),
    "modedrop/unused.py": "",
    "modedrop/sub/__init__.py": "",
    "modedrop/sub/b.py": "from . import c\n\n\ndef lazy():\n    from ..d import thing\n",
    "modedrop/sub/c.py": "import os, \\\n    modedrop.sub.leaf as leaf\n",
    "modedrop/sub/leaf.py": "",
    "modedrop/d.py": "thing = 1\n",
    "modedrop/dynamic.py": "from modedrop import a\n",
}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    for name, text in MODULES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp_path / "script.py").write_text("import os\nfrom modedrop.a import something\n")
    return tmp_path


def relative(files: list[str], root: Path) -> list[str]:
    return [str(Path(f).relative_to(root)) for f in files]


def test_imports_are_followed_transitively_with_parents_and_lazy_imports(library):
    files = relative(code_files(library / "script.py", library), library)
    assert files == [
        "script.py",
        "modedrop/__init__.py",
        "modedrop/a.py",
        "modedrop/d.py",  # imported inside a function, relatively
        "modedrop/sub/__init__.py",
        "modedrop/sub/b.py",  # "from modedrop.sub import b": a module, not a name
        "modedrop/sub/c.py",
        "modedrop/sub/leaf.py",
    ]


def test_modules_imported_by_name_are_added_with_their_imports(library):
    files = relative(code_files(library / "script.py", library, ["modedrop.dynamic"]), library)
    assert "modedrop/dynamic.py" in files and "modedrop/unused.py" not in files
    with pytest.raises(ModuleNotFoundError, match="modedrop.nothing"):
        code_files(library / "script.py", library, ["modedrop.nothing"])
    with pytest.raises(FileNotFoundError, match="missing.py"):
        code_files(library / "missing.py", library)


def test_every_workflow_script_resolves_and_metric_jobs_share_the_validation_module():
    workflow = REPO / "workflow"
    checks = str((workflow / "modedrop" / "validation.py").resolve())
    for script in sorted((workflow / "scripts").glob("*.py")):
        files = code_files(script, workflow)
        assert files[0] == str(script.resolve()) and len(files) == len(set(files))
    rankme = code_files(workflow / "scripts" / "metric.py", workflow, ["modedrop.evaluate.rankme"])
    assert checks in rankme
