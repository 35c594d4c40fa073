"""Preprocess transforms that misbehave inside a decoding worker process, for the worker tests.

They are picklable wrappers around a model's real transform (a worker process receives them by
pickle), and each misbehaves only on images of one width, so one file of a folder is the culprit.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


class CrashOn:
    """Kills its process as a segfaulting decoder would, on images `width` pixels wide."""

    def __init__(self, preprocess, width: int):
        self.preprocess, self.width = preprocess, width

    def __call__(self, image):
        if image.width == self.width:
            os.kill(os.getpid(), getattr(signal, "SIGSEGV", signal.SIGTERM))
        return self.preprocess(image)


class OutOfMemoryOn(CrashOn):
    """Raises MemoryError on images `width` pixels wide, as a huge allocation would."""

    def __call__(self, image):
        if image.width == self.width:
            raise MemoryError
        return self.preprocess(image)


class RecordsProcess:
    """Writes the id of the process that preprocesses each image into `folder`."""

    def __init__(self, preprocess, folder: Path):
        self.preprocess, self.folder = preprocess, folder

    def __call__(self, image):
        (self.folder / str(os.getpid())).touch()
        return self.preprocess(image)


class UnusableInWorkers:
    """Cannot be unpickled in any other process: workers that cannot even start."""

    def __init__(self, preprocess):
        self.preprocess, self.parent = preprocess, os.getpid()

    def __reduce__(self):
        return _unpickle, (self.preprocess, self.parent)

    def __call__(self, image):
        return self.preprocess(image)


def _unpickle(preprocess, parent: int) -> UnusableInWorkers:
    if os.getpid() != parent:
        raise ImportError("this transform cannot be loaded here")
    return UnusableInWorkers(preprocess)
