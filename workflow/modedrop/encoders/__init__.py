"""Encoder registry: one entry per representation encoder.

An entry (:class:`EncoderSpec`) says how to build the network, how images must be preprocessed
for it, and what it outputs (feature dimension, number of classes of its classifier head if it
has one). Adding an encoder means adding one module with a ``SPEC`` and one line in
:data:`ENCODERS`.
"""

from __future__ import annotations

from modedrop.encoders.base import EncoderSpec, Preprocessing
from modedrop.encoders.efficientnet_lite0 import SPEC as EFFICIENTNET_LITE0

ENCODERS: dict[str, EncoderSpec] = {
    EFFICIENTNET_LITE0.name: EFFICIENTNET_LITE0,
}


def get_encoder(name: str) -> EncoderSpec:
    """The registry entry for ``name``, with the list of known names when it is unknown."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise KeyError(
            f"unknown encoder {name!r}; known encoders: {sorted(ENCODERS)}. Add one in "
            "workflow/modedrop/encoders/ and register it in ENCODERS."
        ) from None


__all__ = ["ENCODERS", "EncoderSpec", "Preprocessing", "get_encoder"]
