"""dlib's 128-d face recognition ResNet: the identity descriptor for MCCS (Wu et al.,
*Black-Box Diagnosis and Calibration on GAN Intra-Mode Collapse*).

Network and weights: ``dlib_face_recognition_resnet_model_v1.dat`` (a ResNet-29 trained by
Davis King on about 3 million faces, 99.38 % on LFW; dlib's ``dnn_face_recognition_ex.cpp``),
shipped with the 5-point landmark predictor ``shape_predictor_5_face_landmarks.dat`` inside the
PyPI package ``face-recognition-models`` 0.3.0 and run by dlib (PyPI ``dlib-bin``
20.0.1.post1, module ``dlib``). The package's ``__init__`` imports ``pkg_resources``, which
recent setuptools no longer provides, so its data folder is located without importing it.

Per image (dlib's own recipe, as in its ``face_recognition.py`` example and the
``face_recognition`` package):

1. ``dlib.get_frontal_face_detector()`` (HOG + linear SVM) with one upsampling, so that faces
   down to about 40 px are found (CelebA's aligned faces are larger; the 96 x 118 default set
   still works, see the tests); the largest detection is kept (ties: the detector's order);
2. the 5-point landmarks of that box;
3. ``face_recognition_model_v1.compute_face_descriptor(image, shape)`` with dlib's defaults:
   no jitter and ``padding=0.25``, i.e. dlib aligns the face itself to a 150 x 150 chip
   (``get_face_chip_details(shape, 150, 0.25)``) and returns a 128-d descriptor whose
   euclidean norm is about 1.4-1.5 (not normalised). Two faces closer than 0.6 are the same
   person by dlib's convention.

**When no face is detected** the whole image is used as the face box
(``dlib.rectangle(0, 0, w - 1, h - 1)``): CelebA's crops are already aligned, so the landmark
predictor still finds the eyes and nose inside it, and every image gets a descriptor (images are
never dropped, which would change the subset sizes the study compares). Every such image is
recorded: the module's ``face_found`` list holds one boolean per image, in call order, and
:func:`modedrop.extraction.extract_features` stores it in the feature cache (dataset
``face_found``, attribute ``n_no_face``) and logs a warning.

**On every core.** dlib holds the GIL while it describes an image, so threads cannot share the
work. ``use_processes(n)`` (which :func:`modedrop.extraction.extract_features` calls with its
``threads``) makes ``forward`` describe each batch's images in a pool of ``n`` worker processes:
fresh interpreters (``spawn``, never a fork of a parent whose torch threads are running), each of
which builds its own :class:`DlibFaceDescriptor` from the same two model files, since dlib
objects cannot be pickled. ``Executor.map`` returns the results in the batch's order, so the
features and ``face_found`` come out in data-set order; every image is described alone by the
same code and files, so the rows are identical to a one-process run's (tested). With one
process (the default) the module's own descriptor works in the calling process and no pool is
started. The pool starts on the first batch and :meth:`close` shuts it down. The module itself
still cannot be pickled: build it with :func:`build` in the process that uses it (the
DataLoader's workers only decode images).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import multiprocessing
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING

from modedrop.encoders.base import EncoderSpec, Preprocessing, Weights

if TYPE_CHECKING:
    import numpy as np
    import torch

RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_MODEL = "shape_predictor_5_face_landmarks.dat"
#: Detector upsampling: one doubling finds faces of about 40 px and more (dlib's examples).
UPSAMPLE = 1
_INSTALL_HINT = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0"
#: Worker processes start as fresh interpreters: a forked child of a parent whose torch thread
#: pools are running can inherit their locks held and hang.
START_METHOD = "spawn"


def models_dir() -> Path:
    """The ``models/`` folder of the installed ``face_recognition_models`` package.

    Found from the import system's metadata without executing the package (its ``__init__``
    needs ``pkg_resources``, absent from current setuptools).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "encoder 'dlib_face' needs the PyPI packages dlib-bin and face-recognition-models "
            f"(its weights ship inside the latter): {_INSTALL_HINT}"
        )
    return Path(spec.submodule_search_locations[0]) / "models"


def weights_path() -> Path:
    """The recognition network inside ``face-recognition-models`` (packaged weights)."""
    path = models_dir() / RECOGNITION_MODEL
    if not path.is_file():
        raise FileNotFoundError(
            f"encoder 'dlib_face': {path} is missing from the installed face-recognition-models "
            f"package; reinstall it: {_INSTALL_HINT}"
        )
    return path


def _import_dlib():
    try:
        import dlib
    except ImportError as error:
        raise ImportError(
            f"encoder 'dlib_face' needs the PyPI package dlib-bin (module dlib): {_INSTALL_HINT}"
        ) from error
    return dlib


def _landmarks_path(recognition_path: Path) -> Path:
    """The 5-point predictor: beside a configured recognition file, else the packaged one."""
    beside = recognition_path.parent / LANDMARKS_MODEL
    return beside if beside.is_file() else models_dir() / LANDMARKS_MODEL


class DlibFaceDescriptor:
    """Callable pieces of dlib's pipeline, kept apart from torch so they can be tested alone."""

    def __init__(self, recognition_path: Path, landmarks_path: Path):
        dlib = _import_dlib()
        self._dlib = dlib
        # The files, so that worker processes can build their own copies.
        self.paths = (Path(recognition_path), Path(landmarks_path))
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(landmarks_path))
        self.recognition = dlib.face_recognition_model_v1(str(recognition_path))

    def face_box(self, image: np.ndarray):
        """The largest detected face, or None."""
        detections = list(self.detector(image, UPSAMPLE))
        if not detections:
            return None
        # max() keeps the first of equal areas: the detector's order decides ties.
        return max(detections, key=lambda box: box.width() * box.height())

    def describe(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        """128-d descriptor (float32) of one HWC RGB uint8 image, and whether a face was found."""
        import numpy as np

        box = self.face_box(image)
        found = box is not None
        if not found:
            height, width = image.shape[:2]
            box = self._dlib.rectangle(0, 0, width - 1, height - 1)
        shape = self.landmarks(image, box)
        # dlib's defaults, stated: no jitter, padding 0.25 around the aligned 150 px chip.
        vector = self.recognition.compute_face_descriptor(image, shape, 0, 0.25)
        return np.asarray(vector, dtype=np.float32), found


# --- worker processes (see "On every core" in the module docstring) --------------------------

#: The descriptor of a worker process, built once by :func:`_start_worker`.
_worker_descriptor: DlibFaceDescriptor | None = None


def _start_worker(recognition_path: Path, landmarks_path: Path) -> None:
    global _worker_descriptor
    _worker_descriptor = DlibFaceDescriptor(recognition_path, landmarks_path)


def _describe_in_worker(image: np.ndarray) -> tuple[np.ndarray, bool]:
    return _worker_descriptor.describe(image)


@contextlib.contextmanager
def _parent_main_hidden():
    """Start spawned processes without re-running the parent's ``__main__`` script.

    A spawned interpreter runs the parent's main script again (as ``__mp_main__``) before it
    takes work. Snakemake's ``script:`` directive runs the workflow's scripts as unguarded main
    scripts, so a worker would start the whole extraction again. The workers need only this
    module, which they import by name; while they start, ``__main__`` is a bare module with no
    file to re-run.
    """
    parent_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = parent_main


def _module_class():
    import torch

    class DlibFace(torch.nn.Module):
        """``forward(uint8 N x 3 x H x W) -> (N x 128 float32 descriptors, None)``.

        ``face_found`` lists, for every image seen so far (in call order), whether dlib's
        detector found a face in it (False: the whole image was used as the face box).
        ``processes`` is how many processes describe a batch (:meth:`use_processes`).
        """

        def __init__(self, descriptor: DlibFaceDescriptor):
            super().__init__()
            self.descriptor = descriptor
            self.face_found: list[bool] = []
            self.processes = 1
            self._pool: concurrent.futures.ProcessPoolExecutor | None = None

        def use_processes(self, count: int) -> None:
            """Describe each batch's images in ``count`` processes (1: in this process)."""
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"the number of processes must be an integer >= 1, got {count!r}")
            if count != self.processes:
                self.close()
                self.processes = count

        def close(self) -> None:
            """Shut the worker pool down (if one was started); the module stays usable."""
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

        def _describe_all(self, images: list[np.ndarray]):
            """``(descriptor, face found)`` of every image, in order."""
            if self.processes == 1:
                return map(self.descriptor.describe, images)
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context(START_METHOD),
                    initializer=_start_worker,
                    initargs=self.descriptor.paths,
                )
            # The pool starts its processes as work is submitted: map() submits every image.
            with _parent_main_hidden():
                return self._pool.map(_describe_in_worker, images)

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
            import numpy as np

            if images.dim() != 4 or images.shape[1] != 3 or images.dtype != torch.uint8:
                raise ValueError(
                    "encoder 'dlib_face' takes uint8 RGB batches of shape N x 3 x H x W, got "
                    f"{images.dtype} {tuple(images.shape)}; its preprocessing must leave the "
                    "images as decoded (Preprocessing())"
                )
            # dlib wants C-contiguous HWC arrays; the batch may be channels_last or on CUDA.
            pixels = images.detach().permute(0, 2, 3, 1).cpu().numpy()
            out = np.empty((len(pixels), 128), dtype=np.float32)
            described = self._describe_all([np.ascontiguousarray(image) for image in pixels])
            for i, (vector, found) in enumerate(described):
                out[i] = vector
                self.face_found.append(found)
            return torch.from_numpy(out).to(images.device), None

        def __getstate__(self):
            raise TypeError(
                "the dlib_face module holds dlib objects, which cannot be pickled; build it "
                "with SPEC.build(path) in the process that uses it"
            )

    return DlibFace


def build(path: Path) -> torch.nn.Module:
    descriptor = DlibFaceDescriptor(Path(path), _landmarks_path(Path(path)))
    return _module_class()(descriptor).eval()


SPEC = EncoderSpec(
    name="dlib_face",
    description=(
        "dlib face recognition ResNet (dlib_face_recognition_resnet_model_v1, shipped in the "
        "face-recognition-models wheel): 128-d identity descriptor of the largest detected face "
        "(HOG detector, 5-point alignment, 150 px chip); the identity descriptor of MCCS"
    ),
    feature_dim=128,
    num_classes=None,
    # uint8 at native size: dlib detects and aligns the face itself.
    preprocessing=Preprocessing(
        in_network="dlib HOG face detection (upsample 1), 5-point alignment to a 150 px chip "
        "with padding 0.25; whole image as face box when no face is detected"
    ),
    # SHA-256 computed from the file in the face-recognition-models 0.3.0 wheel.
    weights=Weights(
        file_name=RECOGNITION_MODEL,
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        packaged=weights_path,
    ),
    build=build,
)
