"""Safe loading: checkpoints without pickled code, hashed weights, no config in shell strings.

The source-scanning tests read the library and the rules as text/AST, so a future
``torch.load(path)`` or ``shell: "... {params.x}"`` fails the suite instead of slipping in.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

from conftest import REPO
from modedrop.encoders import ENCODERS
from modedrop.encoders.weights import WeightsFormatError, load_state_dict_file

LIBRARY = REPO / "workflow" / "modedrop"
RULES = sorted((REPO / "workflow" / "rules").glob("*.smk")) + [REPO / "Snakefile"]


def _calls(tree: ast.AST, dotted: str):
    """Every call ``a.b(...)`` whose callee reads ``dotted`` (e.g. ``torch.load``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == dotted:
            yield node


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _library_files() -> list[Path]:
    files = sorted(LIBRARY.rglob("*.py")) + sorted((REPO / "workflow" / "scripts").glob("*.py"))
    assert len(files) > 50
    return files


def unsafe_loads(source: str) -> list[str]:
    """Loading calls that can run code from a file: what the scan below forbids."""
    tree = ast.parse(source)
    problems = []
    for call in _calls(tree, "torch.load"):
        flag = _keyword(call, "weights_only")
        if not (isinstance(flag, ast.Constant) and flag.value is True):
            problems.append(f"line {call.lineno}: torch.load without weights_only=True")
    for dotted in ("pickle.load", "pickle.loads", "dill.load", "joblib.load"):
        problems += [f"line {c.lineno}: {dotted}" for c in _calls(tree, dotted)]
    for call in _calls(tree, "np.load"):
        flag = _keyword(call, "allow_pickle")
        if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
            problems.append(f"line {call.lineno}: np.load with allow_pickle")
    for call in _calls(tree, "yaml.load"):
        problems.append(f"line {call.lineno}: yaml.load (use yaml.safe_load)")
    return problems


def test_the_scan_catches_unsafe_loads():
    assert unsafe_loads("import torch\ntorch.load(p)\n") == [
        "line 2: torch.load without weights_only=True"
    ]
    assert unsafe_loads("torch.load(p, weights_only=False)")
    assert unsafe_loads("np.load(p, allow_pickle=True)")
    assert unsafe_loads("yaml.load(text)")
    assert unsafe_loads("pickle.loads(b)")
    assert unsafe_loads("torch.load(p, map_location='cpu', weights_only=True)") == []


def test_library_loads_nothing_that_can_run_code():
    problems = {
        str(path.relative_to(REPO)): found
        for path in _library_files()
        if (found := unsafe_loads(path.read_text()))
    }
    assert problems == {}


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_carrying_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    checkpoint = tmp_path / "evil.pth"
    torch.save({"conv.weight": torch.zeros(1), "payload": _Payload(marker)}, checkpoint)
    with pytest.raises(WeightsFormatError, match="weights_only=True"):
        load_state_dict_file(ENCODERS["vicreg_resnet50"], checkpoint)
    assert not marker.exists()


# Their authors publish no hash, and this project's machines cannot download them: the SHA-256 of
# the file actually used is logged and stored in every feature cache, and users pin it with
# encoders.<name>.sha256 (see docs/encoders.md). Any other downloaded file must carry a pin.
NO_PUBLISHED_HASH = {"vicreg_resnet50", "dino_resnet50"}


def test_every_downloaded_file_is_checked_against_a_pinned_hash():
    downloaded = {name: spec for name, spec in ENCODERS.items() if spec.weights.url}
    assert NO_PUBLISHED_HASH <= set(downloaded)
    for name, spec in downloaded.items():
        # A full SHA-256, or torch.hub's prefix of it carried by the file name.
        pinned = re.fullmatch(r"[0-9a-f]{8,64}", spec.weights.expected_prefix or "")
        assert pinned or name in NO_PUBLISHED_HASH, f"{name}: downloaded without a pinned hash"


# A rule directive that runs a shell string (``shell:``, or Python's os.system/subprocess with
# shell=True inside ``run:``) would interpolate config values into a command line.
_SHELL_DIRECTIVE = re.compile(r"^\s+(shell|run)\s*:", re.MULTILINE)


def shell_directives(text: str) -> list[str]:
    return [m.group(1) for m in _SHELL_DIRECTIVE.finditer(text)]


def test_the_shell_scan_catches_a_shell_rule():
    rule = (
        'rule x:\n    params:\n        n=config["n"],\n    shell:\n        "tool -n {params.n}"\n'
    )
    assert shell_directives(rule) == ["shell"]


def test_no_rule_runs_a_shell_string():
    """Every rule runs a Python script: config values reach code as objects, never as text."""
    found = {str(p.relative_to(REPO)): shell_directives(p.read_text()) for p in RULES}
    assert {path: kinds for path, kinds in found.items() if kinds} == {}
    assert sum(p.read_text().count("script:") for p in RULES) >= 15


def test_no_library_code_starts_a_shell():
    problems = []
    for path in _library_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                shell = _keyword(node, "shell")
                if isinstance(shell, ast.Constant) and shell.value is True:
                    problems.append(f"{path.name}:{node.lineno} shell=True")
                if ast.unparse(node.func) in ("os.system", "os.popen"):
                    problems.append(f"{path.name}:{node.lineno} {ast.unparse(node.func)}")
    assert problems == []
