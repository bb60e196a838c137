"""The three ways to get the software (conda env, Docker, Apptainer) pin what pyproject.toml pins.

pyproject.toml's [project].dependencies is the single source of the pins. envs/modedrop.yaml has
to repeat them (conda cannot read pyproject.toml), so it is compared entry by entry; the two
container definitions generate their requirements list from pyproject.toml at build time, so
their generating command is run here on the real pyproject.toml and everything they pip-install
is checked to come from that list. Nothing is built and nothing is downloaded: the files are
parsed as text, so the checks take milliseconds and need neither Docker nor Apptainer.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from conftest import REPO

PYPROJECT = REPO / "pyproject.toml"
CONDA_ENV = REPO / "envs" / "modedrop.yaml"
DOCKERFILE = REPO / "containers" / "Dockerfile"
APPTAINER_DEF = REPO / "containers" / "Apptainer.def"
CONTAINER_FILES = {"Dockerfile": DOCKERFILE, "Apptainer.def": APPTAINER_DEF}

# pip options that take a value (as the next argument or after "="): needed to tell an option's
# value from a package name.
PIP_VALUE_OPTIONS = frozenset(
    "-e --editable -r --requirement -c --constraint -i --index-url --extra-index-url -f "
    "--find-links -t --target --prefix --root --platform --python-version --implementation --abi "
    "--src --upgrade-strategy --log --cache-dir --timeout --retries --progress-bar "
    "--root-user-action --report --trusted-host --proxy --cert --client-cert".split()
)
# Options that would install something other than pyproject.toml's pins from PyPI: a package
# from another index (e.g. torch's CPU-only build, same version number, different wheel) or an
# editable checkout.
PIP_FORBIDDEN_OPTIONS = frozenset(
    "-e --editable -i --index-url --extra-index-url -f --find-links --pre".split()
)
SHELL_OPERATORS = frozenset({"&&", "||", ";", ";;", "|", "&", "(", ")"})
PINNED_MENTION = re.compile(r"(?<![\w.-])([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)")


# ----- reading the files ------------------------------------------------------------------------


def normalise(name: str) -> str:
    """PEP 503 name: pip treats dlib_bin, dlib-bin and Dlib.Bin as one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def dependencies() -> list[str]:
    return pyproject()["project"]["dependencies"]


def exact_pins(specs: list[str], source: str) -> dict[str, str]:
    """Normalised name -> version of each ``name==version``; fails on anything else.

    A range, a wildcard or a bare name would let two installs resolve different versions, and a
    package listed twice would hide which pin wins, so each is reported with the fix.
    """
    pins: dict[str, str] = {}
    problems = []
    for spec in specs:
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as error:
            problems.append(f"{spec!r} is not a valid requirement ({error})")
            continue
        name, specifiers = normalise(requirement.name), list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
            problems.append(f"{spec!r} is not pinned to one exact version; write name==version")
        elif name in pins:
            problems.append(f"{name} is listed twice; keep one entry")
        else:
            pins[name] = specifiers[0].version
    assert not problems, f"{source}:\n  " + "\n  ".join(problems)
    return pins


def pin_differences(expected: dict[str, str], actual: dict[str, str], source: str) -> list[str]:
    """One line per package whose version differs, or that only one side lists."""
    return [
        f"{name}: pyproject.toml pins {expected.get(name, '(absent)')}, "
        f"{source} pins {actual.get(name, '(absent)')}"
        for name in sorted(expected.keys() | actual.keys())
        if expected.get(name) != actual.get(name)
    ]


def conda_environment() -> tuple[list[str], list[str]]:
    """The conda packages and the pip list of envs/modedrop.yaml."""
    dependencies = yaml.safe_load(CONDA_ENV.read_text())["dependencies"]
    conda = [d for d in dependencies if isinstance(d, str)]
    pip_lists = [d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, f"{CONDA_ENV}: expected one `- pip:` list, found {len(pip_lists)}"
    return conda, pip_lists[0]


def apptainer_sections(text: str) -> dict[str, str]:
    """Header (under ``""``) and each ``%section``'s body; repeated sections are concatenated."""
    sections = {"": ""}
    current = ""
    for line in text.splitlines():
        match = re.match(r"%(\w+)", line)
        if match:
            current = match.group(1)
            sections.setdefault(current, "")
        else:
            sections[current] += line + "\n"
    return sections


def dockerfile_run_scripts(text: str) -> list[str]:
    """The shell text of each RUN instruction (comment lines dropped, continuations joined).

    A backslash-newline disappears, as Docker and the shell remove it.
    """
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", "", "\n".join(lines))
    scripts = []
    for match in re.finditer(r"^\s*RUN\s+(.*)$", joined, re.MULTILINE | re.IGNORECASE):
        script = match.group(1).strip()
        # Exec form, RUN ["pip", "install", ...]: the words are given, not shell-parsed.
        scripts.append(shlex.join(json.loads(script)) if script.startswith("[") else script)
    return scripts


def build_scripts(name: str) -> list[str]:
    """The shell code that runs while the image named ``name`` is built."""
    text = CONTAINER_FILES[name].read_text()
    if name == "Dockerfile":
        return dockerfile_run_scripts(text)
    sections = apptainer_sections(text)
    return [sections.get("setup", ""), sections.get("post", "")]


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script as word lists, split at ``&&``, ``;``, ``|``...

    Quotes are honoured (the ``;`` inside ``python -c "..."`` does not split), so what pip is
    asked to install is read the way the shell would pass it.
    """
    commands: list[list[str]] = []
    for line in re.sub(r"\\\n", "", script).splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in lexer:
            if token in SHELL_OPERATORS:
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
    return [command for command in commands if command]


def pip_install_arguments(command: list[str]) -> list[str] | None:
    """What follows ``install`` in ``pip install ...`` / ``python -m pip install ...``."""
    for i, word in enumerate(command[:-1]):
        if Path(word).name in {"pip", "pip3"} and command[i + 1] == "install":
            return command[i + 2 :]
    return None


def read_pip_install(arguments: list[str]) -> tuple[list[str], list[str]]:
    """(requirement files, problems) of one ``pip install``'s arguments.

    A problem is a package named on the command line (it would bypass pyproject.toml) or an
    option that changes where packages come from.
    """
    requirement_files, problems = [], []
    words = iter(arguments)
    for word in words:
        if not word.startswith("-"):
            problems.append(f"installs {word!r}, which does not come from pyproject.toml's pins")
            continue
        option, has_value, value = word.partition("=")
        if option in PIP_VALUE_OPTIONS and not has_value:
            value = next(words, "")
        if option in PIP_FORBIDDEN_OPTIONS:
            problems.append(f"uses {option} {value}".rstrip() + ": install only from PyPI")
        if option in {"-r", "--requirement"}:
            requirement_files.append(value)
    return requirement_files, problems


def pip_installs(name: str) -> list[list[str]]:
    """The arguments of every ``pip install`` run while the image is built."""
    installs = []
    for script in build_scripts(name):
        for command in shell_commands(script):
            arguments = pip_install_arguments(command)
            if arguments is not None:
                installs.append(arguments)
    return installs


def requirements_generators(name: str) -> list[str]:
    """The code of each ``python -c CODE`` build command that reads pyproject.toml."""
    return [
        command[2]
        for script in build_scripts(name)
        for command in shell_commands(script)
        if len(command) >= 3
        and Path(command[0]).name in {"python", "python3"}
        and command[1] == "-c"
        and "pyproject.toml" in command[2]
    ]


def base_image(name: str) -> str:
    """The image a container definition starts from (one stage: the study needs no other)."""
    text = CONTAINER_FILES[name].read_text()
    pattern = r"^FROM\s+(\S+)" if name == "Dockerfile" else r"^From:\s*(\S+)"
    found = re.findall(pattern, text, re.MULTILINE | re.IGNORECASE)
    assert len(found) == 1, f"{name}: expected one base image, found {found}"
    return found[0]


def base_image_python(name: str) -> str:
    """The ``X.Y`` of the ``python:X.Y-...`` image a container definition starts from."""
    match = re.match(r"(?:docker\.io/)?(?:library/)?python:(\d+\.\d+)", base_image(name))
    assert match, f"{name}: base image {base_image(name)!r} is not an official python:X.Y image"
    return match.group(1)


# ----- the checks -------------------------------------------------------------------------------


def test_pyproject_pins_every_dependency_exactly():
    project = pyproject()["project"]
    exact_pins(project["dependencies"], "pyproject.toml [project].dependencies")
    for group, specs in project.get("optional-dependencies", {}).items():
        exact_pins(specs, f"pyproject.toml [project.optional-dependencies].{group}")


def test_conda_pip_list_matches_pyproject():
    expected = exact_pins(dependencies(), "pyproject.toml")
    actual = exact_pins(conda_environment()[1], "envs/modedrop.yaml pip list")
    differences = pin_differences(expected, actual, "envs/modedrop.yaml")
    assert not differences, (
        "envs/modedrop.yaml's pip list must repeat pyproject.toml's [project].dependencies "
        "exactly; change the two together:\n  " + "\n  ".join(differences)
    )


def test_conda_adds_nothing_but_python_and_pip():
    # Any other conda package would be a second, differently built copy of a library pip
    # also installs (numpy from conda-forge next to numpy from PyPI), or an unpinned extra.
    names = [re.split(r"[\s=<>!~]", spec, maxsplit=1)[0] for spec in conda_environment()[0]]
    extra = sorted(set(names) - {"python", "pip"})
    assert not extra, (
        f"envs/modedrop.yaml installs {extra} from conda; list Python packages only under "
        "`- pip:`, pinned as in pyproject.toml"
    )


def test_python_minor_version_is_the_same_everywhere():
    conda_python = [spec for spec in conda_environment()[0] if re.match(r"python\b", spec)]
    match = re.fullmatch(
        r"python\s*==?\s*(\d+\.\d+)(\.\*)?", conda_python[0] if conda_python else ""
    )
    assert match, f"envs/modedrop.yaml: expected `python=X.Y`, found {conda_python}"
    versions = {
        "envs/modedrop.yaml": match.group(1),
        **{name: base_image_python(name) for name in CONTAINER_FILES},
    }
    assert len(set(versions.values())) == 1, f"Python minor versions differ: {versions}"
    requires = pyproject()["project"]["requires-python"]
    assert SpecifierSet(requires).contains(match.group(1)), (
        f"Python {match.group(1)} (envs and containers) does not satisfy pyproject.toml's "
        f"requires-python {requires!r}"
    )


def test_containers_start_from_the_same_base_image():
    images = {name: base_image(name) for name in CONTAINER_FILES}
    assert len(set(images.values())) == 1, f"the containers' base images differ: {images}"


@pytest.mark.parametrize("name", CONTAINER_FILES)
def test_container_generates_its_requirements_from_pyproject(name, tmp_path):
    text = CONTAINER_FILES[name].read_text()
    if name == "Dockerfile":
        copied = re.search(r"^\s*(COPY|ADD)\s[^\n]*\bpyproject\.toml\b", text, re.MULTILINE)
    else:
        files = apptainer_sections(text).get("files", "")
        copied = re.search(r"^\s*pyproject\.toml\s", files, re.MULTILINE)
    assert copied, f"{name} does not copy pyproject.toml (the pins) into the image"

    generators = requirements_generators(name)
    assert len(generators) == 1, f"{name}: expected one `python -c` reading pyproject.toml"
    # Run the very command of the build on the real pyproject.toml.
    (tmp_path / "pyproject.toml").write_bytes(PYPROJECT.read_bytes())
    run = subprocess.run(
        [sys.executable, "-c", generators[0]], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, f"{name}'s requirements command failed:\n{run.stderr}"
    written = [p for p in tmp_path.iterdir() if p.name != "pyproject.toml"]
    assert len(written) == 1, f"{name}'s requirements command wrote {written}, expected one file"
    assert written[0].read_text().splitlines() == dependencies(), (
        f"{name}'s requirements file is not pyproject.toml's [project].dependencies"
    )

    installs = pip_installs(name)
    assert installs, f"{name} runs no `pip install`"
    for arguments in installs:
        files, _ = read_pip_install(arguments)
        assert files == [written[0].name], (
            f"{name}: `pip install {shlex.join(arguments)}` must install "
            f"-r {written[0].name} (the list generated from pyproject.toml), found -r {files}"
        )


@pytest.mark.parametrize("name", CONTAINER_FILES)
def test_container_installs_nothing_but_pyproject_pins(name):
    problems = [
        f"`pip install {shlex.join(arguments)}` {problem}"
        for arguments in pip_installs(name)
        for problem in read_pip_install(arguments)[1]
    ]
    expected = exact_pins(dependencies(), "pyproject.toml")
    mentioned = PINNED_MENTION.findall(CONTAINER_FILES[name].read_text())
    problems += [
        f"{n}: pyproject.toml pins {expected.get(normalise(n), '(absent)')}, {name} says {v}"
        for n, v in mentioned
        if expected.get(normalise(n)) != v
    ]
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", CONTAINER_FILES)
def test_container_label_carries_the_project_version(name):
    text = CONTAINER_FILES[name].read_text()
    labels = re.findall(r"org\.opencontainers\.image\.version[=\s]+\"?([^\"\s]+)", text)
    version = pyproject()["project"]["version"]
    assert labels == [version], f"{name}: version label {labels}, pyproject.toml says {version}"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("pip install --no-cache-dir -r requirements.txt numpy", "installs 'numpy'"),
        ("python -m pip install -r requirements.txt 'torch==2.0'", "installs 'torch==2.0'"),
        ("pip install --index-url=https://download.pytorch.org/whl/cpu -r r.txt", "--index-url"),
        ("pip3 install --extra-index-url https://x.org -r r.txt", "--extra-index-url"),
        ("pip install -e .", "-e"),
    ],
)
def test_pip_install_reader_flags_what_bypasses_pyproject(command, problem):
    # The real definitions have no such install, so this shows the check above can see one.
    [arguments] = [pip_install_arguments(c) for c in shell_commands(f"cd /x && {command}")[1:]]
    problems = read_pip_install(arguments)[1]
    assert len(problems) == 1 and problem in problems[0], problems


def test_pip_install_reader_accepts_a_requirements_install():
    script = (
        'python -c "import a; b()" && pip install --no-cache-dir -r requirements.txt; pip check'
    )
    installs = [pip_install_arguments(c) for c in shell_commands(script)]
    assert installs == [None, ["--no-cache-dir", "-r", "requirements.txt"], None]
    assert read_pip_install(installs[1]) == (["requirements.txt"], [])
