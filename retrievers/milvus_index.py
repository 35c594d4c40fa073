"""A library's vectors in Milvus: an embedded Milvus Lite file in the library folder, or a
Milvus server or cluster, behind the interface of `VectorIndex` (add, remove, search, vectors,
ids, len), kept level with library.db by a stamp as index.faiss is (index_file.py).

Where the choice lives: the library records it in its info like its model ("faiss",
"milvus" or "milvus://HOST:PORT[/COLLECTION]", `parse_store`); library.db stays the record
of every image and vector, Milvus holds a copy to search. A library can change its store:
the next open fills the new one from library.db.

Design decisions, with what was measured (milvus-lite 2.5.1, pymilvus 2.5.18, 2 busy cores):
- Milvus Lite 2.5 and not 3.x: 2.5 embeds the C++ engine (a `milvus` child process on a unix
  socket, stopped by the kernel-released file lock when its parent dies); 3.x is a Python
  rewrite. Measured side by side (20k x 128 random unit vectors, FLAT, k 10, `id not in
  [5, 7]`, median of 30): 2.5.1 3.4 ms a search, 3.2.2 345 ms (same top 10); 3.2.2 cannot
  open a 2.5 file ("Open local milvus failed"). 2.5 at 20k x 512: 3.7 ms a search, 3.6 s to
  insert 20k, 0.5-0.6 s to start (its own wait).
- Milvus Lite serves one process at a time (it locks its file). A second rummage process on
  the same library waits for it (`RUMMAGE_SESSION_WAIT`, 30 s, as for a session), then stops
  with one line naming the way out: a Milvus server, which serves any number of processes.
  The wait is on a lock of ours (`vectors.milvus.lite.lock`, held while the file is open),
  never by retrying Milvus Lite: a start that fails on its lock deletes the lock file of the
  process that holds it (milvus-lite 2.5.1 `Server.stop`), so the retry after it started a
  second server on the same file (seen here: both processes served, one file).
- Excluded ids are pushed down as a filter expression (`id not in [...]`), not over-fetched:
  the engine excludes what a person disliked or passed over, which grows with a conversation.
- Vectors by id (the engine reads its candidates' every turn) come from library.db, not from
  Milvus: 420 ids cost 36 ms over Milvus Lite's socket, a few ms from SQLite, and library.db is
  the record anyway.
- Index type: FLAT (exact, as FAISS up to its threshold) for Milvus Lite, which supports no
  other; AUTOINDEX on a server, where Milvus picks the index for its deployment. Searches use
  Strong consistency, so a search after an index run sees what the run wrote.
- Milvus caps limit (k) at 16384; a larger k is padded as `VectorIndex` pads a short answer.
- Keeping level: the stamp (`vectors.milvus.json`) holds the catalog generation, the count
  and which library and store it describes. A run whose changes are all the collection lacks
  upserts and deletes just those rows (`Changes`, as index_file.py patches index.faiss);
  anything else (a killed run, another writer, a new store, `--rebuild`) drops the collection
  and fills it again from library.db. The stamp is removed before Milvus is touched and
  written after, so a crash in between costs a refill, never a stale collection served as
  current.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrievers.catalog import Catalog
from retrievers.file_lock import exclusive, waiting_time
from retrievers.index import (
    VectorIndexError,
    check_pairs,
    check_queries,
    empty_answer,
    ids_array,
    with_vectors,
)
from retrievers.index_file import Changes, library_identity, write_atomically

LITE_FILE = "vectors.milvus.db"  # Milvus Lite wants [A-Za-z0-9._-]{1,36}
STAMP_NAME = "vectors.milvus.json"
LOCK_NAME = "vectors.milvus.lock"  # held while the copy is brought level
LITE_LOCK_NAME = "vectors.milvus.lite.lock"  # held while this process has the Lite file open
MAX_K = 16384  # Milvus's limit on topk
BATCH = 2000  # rows per insert: a gRPC message stays well under Milvus's 64 MB default
TIMEOUT_ENV = "RUMMAGE_MILVUS_TIMEOUT"  # seconds to reach a Milvus server (default 10)
STORE_RULE = ("--vectors is faiss, milvus (a Milvus Lite file in the library folder) or "
              "milvus://HOST:PORT[/COLLECTION] (a Milvus server)")
_COLLECTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_SERVER = re.compile(r"milvus://(?P<host>[^/:\s]+):(?P<port>\d{1,5})(?:/(?P<collection>[^/]*))?/?")

log = logging.getLogger(__name__)


class VectorStoreError(VectorIndexError):
    """The library's vector store cannot be reached or used; the message says what to do."""


def parse_store(text: str) -> str:
    """The canonical spelling of a --vectors value, or ValueError stating the rule."""
    text = text.strip()
    if text in ("faiss", "milvus"):
        return text
    match = _SERVER.fullmatch(text)
    if not match or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"Bad --vectors {text!r}: {STORE_RULE}")
    collection = match["collection"]
    if collection and not _COLLECTION.fullmatch(collection):
        raise ValueError(f"Bad collection name {collection!r} in --vectors: letters, digits "
                         "and '_', not starting with a digit, at most 255")
    return f"milvus://{match['host']}:{match['port']}" + (f"/{collection}" if collection else "")


@dataclass(frozen=True)
class MilvusTarget:
    """Where a library's Milvus copy lives: a Lite file or a server address, and a collection."""

    uri: str  # a file path (Milvus Lite) or http://HOST:PORT
    collection: str
    store: str  # the choice as the library records it

    @classmethod
    def of(cls, store: str, folder: Path, library_name: str) -> MilvusTarget:
        default = "rummage_" + re.sub(r"\W", "_", library_name)[:200]
        if store == "milvus":
            return cls(str(folder / LITE_FILE), default, store)
        match = _SERVER.fullmatch(store)
        if match is None:
            raise VectorStoreError(f"not a Milvus store: {store!r}", fix=STORE_RULE)
        return cls(f"http://{match['host']}:{match['port']}", match["collection"] or default,
                   store)

    @property
    def lite(self) -> bool:
        return not self.uri.startswith("http://")


class MilvusIndex:
    """Inner-product search over unit vectors in one Milvus collection, ids = library rows."""

    kind = "milvus"
    nlist = 0
    on_gpu = False

    def __init__(self, target: MilvusTarget, dim: int, *,
                 read_vectors: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
        self.target = target
        self.dim = int(dim)
        self._read_vectors = read_vectors  # ascending (ids, vectors) of those that exist
        self._client = _connect(target)
        self._count: int | None = None

    # -- the collection --------------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self._client.has_collection(self.target.collection))

    def create(self) -> None:
        """A new, empty collection of this width (an old one of the name is dropped)."""
        from pymilvus import DataType, MilvusClient

        name = self.target.collection
        if self._client.has_collection(name):
            self._client.drop_collection(name)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        params = self._client.prepare_index_params()
        params.add_index(field_name="vector", metric_type="IP",
                         index_type="FLAT" if self.target.lite else "AUTOINDEX")
        self._client.create_collection(name, schema=schema, index_params=params,
                                       consistency_level="Strong")
        self._count = 0

    def stored_dim(self) -> int:
        fields = self._client.describe_collection(self.target.collection)["fields"]
        return next(int(f["params"]["dim"]) for f in fields if f["name"] == "vector")

    def close(self) -> None:
        _release(self.target)

    # -- writing ---------------------------------------------------------------------------

    def add(self, ids, vectors) -> None:
        """Store vectors under ids; an id already present gets the new vector (an upsert)."""
        ids, vectors = check_pairs(ids, vectors, self.dim)
        for start in range(0, len(ids), BATCH):
            rows = [{"id": int(i), "vector": v}
                    for i, v in zip(ids[start:start + BATCH], vectors[start:start + BATCH])]
            self._client.upsert(self.target.collection, rows)
        self._count = None

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Forget these ids; ids not present are ignored. Returns how many were removed."""
        ids = np.unique(ids_array(ids))
        if len(ids) == 0:
            return 0
        before = len(self)
        for start in range(0, len(ids), BATCH):
            self._client.delete(self.target.collection,
                                ids=[int(i) for i in ids[start:start + BATCH]])
        self._count = None
        return before - len(self)

    # -- reading ---------------------------------------------------------------------------

    def search(self, queries, k: int, *, exclude: Collection[int] = (),
               vectors: bool = False) -> tuple[np.ndarray, ...]:
        """As `VectorIndex.search`: (scores, ids), (n_queries, k), best first, padded with
        -inf / -1; excluded ids never appear (a filter expression inside Milvus). With
        vectors=True, the found vectors too, read by id (`vectors`)."""
        scores, found = self._search(queries, k, exclude)
        return with_vectors(self, scores, found) if vectors else (scores, found)

    def _search(self, queries, k: int, exclude: Collection[int]) -> tuple[np.ndarray, np.ndarray]:
        queries = check_queries(queries, self.dim)
        scores, found = empty_answer(len(queries), k)
        k = scores.shape[1]
        if len(queries) == 0 or len(self) == 0:
            return scores, found
        excluded = ids_array(list(exclude)) if len(exclude) else np.empty(0, np.int64)
        where = f"id not in [{','.join(map(str, np.unique(excluded).tolist()))}]" \
            if len(excluded) else ""
        answers = self._client.search(
            self.target.collection, data=[q.tolist() for q in queries],
            limit=min(k, MAX_K, len(self)), filter=where, output_fields=[],
            search_params={"metric_type": "IP"}, anns_field="vector")
        for row, hits in enumerate(answers):
            for col, hit in enumerate(hits):
                found[row, col] = int(hit["id"])
                scores[row, col] = float(hit["distance"])
        return scores, found

    def vectors(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The vectors of these ids, (n, dim) float32, in the order asked (read from
        library.db, the record: see the module docstring)."""
        ids = ids_array(ids)
        if len(ids) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        have, vectors = self._read_vectors(np.unique(ids))
        at = np.searchsorted(have, ids)
        missing = ids[(at >= len(have)) | (have[np.minimum(at, len(have) - 1)] != ids)]
        if len(missing):
            raise VectorIndexError(f"ids not in the index: {missing[:5].tolist()}",
                                   value=missing, fix="ask only for ids from ids()")
        return vectors[at]

    def ids(self) -> np.ndarray:
        """Every stored id, ascending (read with an iterator: Milvus caps one query at 16384)."""
        found: list[int] = []
        reader = self._client.query_iterator(self.target.collection, batch_size=10000,
                                             filter="id >= 0", output_fields=["id"])
        try:
            while batch := reader.next():
                found.extend(int(row["id"]) for row in batch)
        finally:
            reader.close()
        return np.sort(np.array(found, dtype=np.int64))

    def __len__(self) -> int:
        if self._count is None:
            rows = self._client.query(self.target.collection, filter="",
                                      output_fields=["count(*)"])
            self._count = int(rows[0]["count(*)"])
        return self._count

    def __contains__(self, row_id: object) -> bool:
        if not isinstance(row_id, (int, np.integer)):
            return False
        return bool(self._client.get(self.target.collection, ids=[int(row_id)],
                                     output_fields=["id"]))

    def __repr__(self) -> str:
        return f"MilvusIndex({self.target.store!r}, {self.target.collection!r}, dim={self.dim})"


def load_or_sync(folder: Path, catalog: Catalog, store: str, *, dim: Callable[[], int],
                 changes: Changes | None = None, rebuild: bool = False) -> MilvusIndex:
    """The library's Milvus collection, level with the catalog: as it is when its stamp says
    so, patched with `changes` when they are all it lacks, else filled again from library.db
    (always with rebuild=True)."""
    target = MilvusTarget.of(store, folder, catalog.info().get("name") or folder.name)
    with exclusive(folder / LOCK_NAME):
        generation = catalog.generation
        width = catalog.vector_width() or dim()
        index = MilvusIndex(target, width, read_vectors=catalog.vectors_of)
        try:
            saved = None if rebuild else _stamp(folder / STAMP_NAME)
            fits = (saved is not None and saved["library"] == library_identity(catalog)
                    and saved["store"] == store and saved["collection"] == target.collection
                    and index.exists() and index.stored_dim() == width)
            if fits and saved["generation"] == generation and len(index) == saved["count"]:
                return index
            (folder / STAMP_NAME).unlink(missing_ok=True)
            if fits and changes is not None and changes.patch(saved["generation"], generation):
                written, vectors = catalog.vectors_of(changes.written)
                index.remove(np.union1d(np.asarray(changes.removed, np.int64),
                                        np.setdiff1d(np.asarray(changes.written, np.int64),
                                                     written)))
                if len(written):
                    index.add(written, vectors)
            else:
                if saved is not None:
                    log.warning("rummage: the Milvus copy of %s was behind library.db; "
                                "filled it again", folder.name)
                _refill(index, catalog)
            write_atomically(folder / STAMP_NAME, json.dumps(
                {"generation": generation, "count": len(index), "store": store,
                 "collection": target.collection,
                 "library": library_identity(catalog)}).encode())
            return index
        except BaseException:
            index.close()
            raise


def _refill(index: MilvusIndex, catalog: Catalog) -> None:
    index.create()
    for ids, vectors in catalog.vector_batches(BATCH * 5):
        index.add(ids, vectors)


def _stamp(path: Path) -> dict | None:
    try:
        saved = json.loads(path.read_text())
        return {"generation": int(saved["generation"]), "count": int(saved["count"]),
                "store": str(saved["store"]), "collection": str(saved["collection"]),
                "library": saved.get("library")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# -- connections -----------------------------------------------------------------------------

@dataclass
class _Shared:
    """One connection, shared by the indexes of a process (Milvus Lite serves one process)."""

    client: object
    held: ExitStack  # our lock on a Lite file, let go when the last user closes
    users: int = 0


_clients: dict[str, _Shared] = {}  # by uri
_clients_lock = threading.Lock()


def _connect(target: MilvusTarget):
    """A client for the target, shared by the indexes of one process; for Milvus Lite, waits
    while another process has the file open (module docstring)."""
    with _clients_lock:
        entry = _clients.get(target.uri)
        if entry is None:
            held = ExitStack()
            try:
                if target.lite:
                    held.enter_context(_lite_lock(target))
                entry = _Shared(_open_client(target), held)
            except BaseException:
                held.close()
                raise
            _clients[target.uri] = entry
        entry.users += 1
        return entry.client


@contextmanager
def _lite_lock(target: MilvusTarget) -> Iterator[None]:
    """Held while this process has the Lite file open; waits for another process's."""
    wait = waiting_time()
    lock = exclusive(Path(target.uri).with_name(LITE_LOCK_NAME), wait)
    try:
        lock.__enter__()
    except TimeoutError:
        raise VectorStoreError(
            f"its Milvus Lite file {target.uri} stayed open in another process for {wait:g} s "
            "(Milvus Lite serves one process at a time)",
            fix="Close the other rummage, or keep the vectors on a Milvus server "
            "(--vectors milvus://HOST:PORT)") from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _release(target: MilvusTarget) -> None:
    with _clients_lock:
        entry = _clients.get(target.uri)
        if entry is None:
            return
        entry.users -= 1
        if entry.users > 0:
            return
        del _clients[target.uri]
    with entry.held:  # our lock on the Lite file is let go last
        entry.client.close()
        if target.lite:  # stop the child process now, not at exit
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(target.uri)


def _open_client(target: MilvusTarget):
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as e:
        raise VectorStoreError(
            f"this library keeps its vectors in Milvus, but pymilvus is not installed ({e})",
            fix="pip install 'rummage[milvus]'") from e
    _quiet()  # after the import: pymilvus sets its loggers' levels as it loads
    if not target.lite:
        try:
            return MilvusClient(uri=target.uri, timeout=_server_timeout())
        except MilvusException as e:
            raise VectorStoreError(f"cannot reach the Milvus server at {target.uri} "
                                   f"({_reason(e)})", fix="check that it runs and the address "
                                   "(--vectors milvus://HOST:PORT)") from e
    try:
        return MilvusClient(target.uri)
    except MilvusException as e:  # our lock is held: a program other than rummage has it
        raise VectorStoreError(f"cannot open the Milvus Lite file {target.uri} "
                               f"({_reason(e)})", fix="close the program that has it open") from e


def _server_timeout() -> float:
    try:
        return max(0.1, float(os.environ.get(TIMEOUT_ENV, "10")))
    except ValueError:
        return 10.0


def _reason(error: Exception) -> str:
    return getattr(error, "message", "") or type(error).__name__


def _quiet() -> None:
    """Milvus Lite logs its failures on the root logger and pymilvus its retries on its own:
    both are turned into one line of ours where they matter. milvus-lite 2.5 imports
    pkg_resources (when pymilvus first opens a file), which warns on every import."""
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    root = logging.getLogger()
    if not any(isinstance(f, _FromMilvusLite) for f in root.filters):
        root.addFilter(_FromMilvusLite())


class _FromMilvusLite(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "milvus_lite" not in record.pathname
