"""Encoder registry: one entry per representation encoder.

An entry (:class:`EncoderSpec`) says how to build the network from a weights file, where that
file comes from (:class:`Weights`, resolved by :func:`modedrop.encoders.weights.locate_weights`),
how images must be preprocessed for it, and what it outputs (feature dimension, number of
classes of its classifier head if it has one). Adding an encoder means adding one module named
after it with a ``SPEC`` and one line in :data:`ENCODERS`. docs/encoders.md describes each one.

Importing the registry does not import torch (Snakemake imports it at parse time).
"""

from __future__ import annotations

from modedrop.encoders.base import EncoderSpec, Preprocessing, Weights
from modedrop.encoders.dino_resnet50 import SPEC as DINO_RESNET50
from modedrop.encoders.dlib_face import SPEC as DLIB_FACE
from modedrop.encoders.efficientnet_lite0 import SPEC as EFFICIENTNET_LITE0
from modedrop.encoders.inception_v3 import SPEC as INCEPTION_V3
from modedrop.encoders.inception_v3_torchvision import SPEC as INCEPTION_V3_TORCHVISION
from modedrop.encoders.vicreg_resnet50 import SPEC as VICREG_RESNET50

ENCODERS: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in (
        EFFICIENTNET_LITE0,
        VICREG_RESNET50,
        DINO_RESNET50,
        INCEPTION_V3,
        INCEPTION_V3_TORCHVISION,
        DLIB_FACE,
    )
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


__all__ = ["ENCODERS", "EncoderSpec", "Preprocessing", "Weights", "get_encoder"]
