"""The library code a workflow script runs, derived from its import statements.

Every rule declares its script and the ``modedrop`` modules that script imports as inputs, so
that editing a module re-runs exactly the jobs that execute it (Snakemake's ``mtime`` trigger)
and nothing else. The list is computed at parse time, never kept by hand: :func:`code_files`
reads the script's import statements with :mod:`ast` - at module level and inside functions
alike, since a lazy import runs too - and follows them through the package, transitively.
Importing ``modedrop.metrics.rankme`` executes ``modedrop/__init__.py`` and
``modedrop/metrics/__init__.py`` first, so parent packages count as imported.

Imports by string (``importlib.import_module``) cannot be seen in the source; a rule whose
script imports a module that way names it in ``extra_modules`` (e.g. the metric family's
evaluate module of the generic metric script).
"""

from __future__ import annotations

import ast
import bisect
import re
import textwrap
from collections.abc import Iterable
from functools import cache
from pathlib import Path

__all__ = ["PACKAGE", "code_files", "imported_modules", "module_path"]

#: The library whose modules are tracked; third-party imports are not code inputs (their
#: versions are pinned by the environment instead).
PACKAGE = "modedrop"


@cache
def module_path(name: str, root: Path) -> Path | None:
    """The file of module ``name`` (e.g. ``modedrop.metrics``) under ``root``, or None."""
    base = Path(root, *name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path, root: Path) -> str:
    """The package a file belongs to, for resolving relative imports ("" outside ``root``)."""
    try:
        parts = path.relative_to(root).with_suffix("").parts
    except ValueError:
        return ""
    return ".".join(parts if path.name == "__init__.py" else parts[:-1])


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parents = package.split(".")
    base = parents[: len(parents) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


# The start of an import statement at any indentation, and the triple quotes that open and close
# docstrings. Only import statements are parsed: parsing every module of every script's
# closure whole would cost about a second at each Snakemake start.
_IMPORT_START = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import\b|import[ \t]+\w)", re.M)
_TRIPLE_QUOTE = re.compile(r'"""|\'\'\'')


def _statement_end(source: str, start: int) -> int:
    """End of the logical line at ``start``: over a parenthesised list and ``\\`` continuations."""
    end = source.find("\n", start)
    end = len(source) if end < 0 else end
    if "(" in source[start:end] and ")" not in source[start:end]:
        end = source.find(")", end) + 1 or len(source)
    while source[start:end].rstrip().endswith("\\") and end < len(source):
        following = source.find("\n", end + 1)
        end = len(source) if following < 0 else following
    return end


def _import_statements(source: str) -> list[ast.stmt]:
    """The import statements of ``source`` - at module level and nested in functions alike -
    each parsed on its own. Lines inside a triple-quoted string (docstrings) are not code."""
    quotes = [match.start() for match in _TRIPLE_QUOTE.finditer(source)]
    statements = []
    for match in _IMPORT_START.finditer(source):
        if bisect.bisect(quotes, match.start()) % 2:
            continue
        text = textwrap.dedent(source[match.start() : _statement_end(source, match.start())])
        try:
            statements += ast.parse(text).body
        except SyntaxError:
            continue
    return statements


@cache
def imported_modules(path: Path, root: Path) -> frozenset[str]:
    """Names of the ``modedrop`` modules that the file at ``path`` imports anywhere in it.

    ``from modedrop.x import y`` names ``modedrop.x`` and, when ``y`` is itself a module,
    ``modedrop.x.y``; every parent package of a named module is named too.
    """
    package = _package_of(Path(path), root)
    names: set[str] = set()
    for node in _import_statements(Path(path).read_text(encoding="utf-8")):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, package)
            names.add(module)
            names.update(
                f"{module}.{alias.name}"
                for alias in node.names
                if module_path(f"{module}.{alias.name}", root) is not None
            )
    ours = {name for name in names if name == PACKAGE or name.startswith(PACKAGE + ".")}
    with_parents = {".".join(n.split(".")[: i + 1]) for n in ours for i in range(n.count(".") + 1)}
    return frozenset(n for n in with_parents if module_path(n, root) is not None)


def code_files(
    script: str | Path, root: str | Path, extra_modules: Iterable[str] = ()
) -> list[str]:
    """The script and every library module it imports, directly or transitively, sorted.

    ``root`` is the folder that holds the ``modedrop`` package (``workflow/``);
    ``extra_modules`` are modules the script imports by name at run time.
    """
    root = Path(root).resolve()
    script = Path(script).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"workflow script {script} does not exist")
    pending = set(imported_modules(script, root))
    for name in extra_modules:
        if module_path(name, root) is None:
            raise ModuleNotFoundError(f"{name!r} is not a module under {root}")
        pending |= {name} | set(imported_modules(module_path(name, root), root))
        pending |= {".".join(name.split(".")[: i + 1]) for i in range(name.count("."))}
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending |= imported_modules(module_path(name, root), root) - seen
    return [str(script), *sorted(str(module_path(name, root)) for name in seen)]
