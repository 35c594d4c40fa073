"""The FAISS index file beside a library: loaded while it is level with the catalog, else rebuilt.

Why a stamp: the index is derived from the catalog's vectors and saved after their transaction
commits, so a run killed in between leaves an index file behind the tables. `index.faiss.json`
records the catalog generation the file was built from; when that differs from the catalog's
generation, the index is rebuilt from the vectors table. The index file is saved first (atomically,
by `VectorIndex.save`) and the stamp replaced after it, so a crash between the two leaves an old
stamp, which costs one more rebuild and never serves a stale index as current.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from retrievers.catalog import Catalog
from retrievers.index import VectorIndex

INDEX_NAME = "index.faiss"
STAMP_NAME = INDEX_NAME + ".json"


def load_or_rebuild(folder: Path, catalog: Catalog, *, dim: Callable[[], int]) -> VectorIndex:
    """The library's index, level with the catalog. `dim` gives the width of an empty index
    (called only when the catalog holds no vectors to take it from)."""
    path = folder / INDEX_NAME
    stamp = folder / STAMP_NAME
    if path.is_file() and stamp.is_file():
        saved = json.loads(stamp.read_text())
        if saved.get("generation") == catalog.generation:
            return VectorIndex.load(path)
    ids, vectors = catalog.all_vectors()
    index = VectorIndex.build(ids, vectors) if len(ids) else VectorIndex(dim())
    index.save(path)
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps({"generation": catalog.generation, "count": len(ids)}))
    os.replace(tmp, stamp)
    return index
