"""A folder of images made searchable: the one object callers open, index, search and read.

Layout: `<home>/<name>/library.db` (the tables, catalog.py) and `<home>/<name>/index.faiss`
(derived from them, index_file.py); indexer.py fills the tables from a folder.

Why the library records its vocabulary beside its model: the model fixes the embeddings, so a
library cannot change it; the vocabulary only changes how a person's text is read, so it is
stored as given ("photos", "demo" or a file path) and may be switched by creating the library
again with another one. Libraries made before it was recorded read as the default for their
model: "demo" for the demo model, "photos" for any other.

Why a name never resolves against the current folder: `--library small` once opened `./small`
when such a folder existed, and wrote session data there. A name is looked up under the home
folder only; a folder is opened only when it is spelled as a path (it holds a slash, or starts
with "." or "~"). Names are short and plain (NAME_RULE) so that each is one folder of the home,
prints on one line and fits a file system's name limit.

Why the library records where its vectors are searched ("faiss", the default: index.faiss
beside library.db; "milvus": a Milvus Lite file there; "milvus://HOST:PORT[/COLLECTION]": a
Milvus server): like the model, every later open must search the same store, and the choice
is made once, by `rummage index --vectors`. Unlike the model it may change: library.db holds
every vector, so the next open fills the new store from it (milvus_index.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrievers.catalog import DB_NAME, SCHEMA, Catalog, UnreadableCatalog, summary
from retrievers.encoders import Encoder, ModelSpec
from retrievers.images import MAX_PIXELS, BadImage, decode
from retrievers.index import VectorIndex
from retrievers.index_file import INDEX_NAME, Changes, load_or_rebuild
from retrievers.indexer import Indexer, IndexReport, Progress
from retrievers.look_cache import LookCache
from retrievers.look_file import LookFile
from retrievers.milvus_index import MilvusIndex, VectorStoreError, load_or_sync, parse_store
from retrievers.text_tower import FILE_NAME as TEXT_TOWER_NAME
from retrievers.text_tower import NumpyTextTower, Unsupported
from retrievers.threads import bulk_threads, interactive_threads, threads_for_bulk, use_threads

DEFAULT_VOCABULARY = "photos"  # what a new library reads text with, unless told otherwise
DEFAULT_STORE = "faiss"  # where a library searches its vectors, unless told otherwise
NAME_LENGTH = 64
NAME_RULE = (f"a library name is 1 to {NAME_LENGTH} letters, digits, '-', '_' or '.', "
             "not starting with '.'")
_NAME = re.compile(rf"(?!\.)[\w.-]{{1,{NAME_LENGTH}}}")

__all__ = [
    "DB_NAME", "INDEX_NAME", "SCHEMA", "Hit", "IndexReport", "Library", "LibraryError",
    "ModelMismatch", "Progress", "UnknownLibrary", "UnreadableLibrary", "checked_name",
    "is_folder_path", "library_dir", "list_libraries",
]


class LibraryError(Exception):
    """A library cannot be opened or used as asked; the message says what to do."""


class UnknownLibrary(LibraryError):
    pass


class ModelMismatch(LibraryError):
    pass


class UnreadableLibrary(LibraryError):
    def __init__(self, folder: Path, reason: str):
        self.folder, self.reason = folder, reason
        super().__init__(
            f"{DB_NAME} in {folder} is not a readable SQLite database ({reason}): restore it "
            "from a backup or delete the folder and index again"
        )


@dataclass(frozen=True, kw_only=True)
class Hit:
    id: int  # the image's row id in `images` (stable across re-index runs)
    path: str  # absolute path of the file
    score: float  # cosine similarity to the query
    meta: dict = field(default_factory=dict)


def library_dir(home: Path, name: str) -> Path:
    return home / name


def checked_name(name: str) -> str:
    """The name if it follows NAME_RULE, else a LibraryError that states the rule."""
    if not _NAME.fullmatch(name):
        shown = name if len(name) <= 40 else f"{name[:40]}…"
        raise LibraryError(f"Bad library name {shown!r} ({len(name)} characters): {NAME_RULE}")
    return name


def is_folder_path(name_or_path: str | Path) -> bool:
    """Whether a --library value names a folder ("./pics", "~/x", "/a/b") rather than a name."""
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or "/" in text or text.startswith((".", "~"))


def list_libraries(home: Path) -> list[dict]:
    """Each library under home with its size, model and vocabulary, for `rummage libraries`;
    one whose library.db cannot be read is listed with `unreadable` (the reason) instead."""
    out = []
    if not home.is_dir():
        return out
    for folder in sorted(p for p in home.iterdir() if (p / DB_NAME).is_file()):
        try:
            info, count = summary(folder / DB_NAME)
        except UnreadableCatalog as e:
            out.append({"name": folder.name, "folder": str(folder), "unreadable": e.reason})
            continue
        out.append(
            {"name": folder.name, "images": count, "model": _spec(info).label,
             "root": info.get("root"), "folder": str(folder),
             "vocabulary": _vocabulary_ref(info), "vectors": _store(info)}
        )
    return out


class Library:
    """One library: open it by name (under a home folder) or by its folder path."""

    def __init__(self, folder: Path, *, encoder: Encoder | None = None):
        self.folder = folder
        self.name = folder.name
        try:
            self.catalog = Catalog(folder / DB_NAME)
        except UnreadableCatalog as e:
            raise UnreadableLibrary(folder, e.reason) from e
        self.db = self.catalog.db  # still read by callers moving to the reads below
        # The catalog's lock also guards the loaded encoder and index, so an index
        # rebuild never reads the tables halfway through a batch being written.
        self._lock = self.catalog.lock
        use_threads(interactive_threads())  # a library is opened to search or talk (threads.py)
        self._encoder = encoder
        self._text_encoder: NumpyTextTower | Encoder | None = None
        self._index: VectorIndex | MilvusIndex | None = None
        self._look_file: LookFile | None = None  # the looks saved with the index (look_file.py)
        self._looks = LookCache(self._read_looks)  # emptied whenever _index is set again
        self._paths: dict[int, str] = {}  # paths asked for by id, emptied with the looks
        self._vocabulary = None  # loaded on first use

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def create(cls, home: Path, name: str, spec: ModelSpec, *, vocabulary: str | None = None,
               vectors: str | None = None, encoder: Encoder | None = None) -> Library:
        """Open the library `name`, creating it for `spec`; an existing one must use `spec`.

        `vocabulary` (a name such as "photos" or a file path) is recorded as given; left out,
        a new library reads "photos" and an existing one keeps its own. `vectors` (where they
        are searched: "faiss", "milvus", "milvus://HOST:PORT[/COLLECTION]") likewise.
        """
        store = checked_store(vectors) if vectors is not None else None
        folder = library_dir(home, checked_name(name))
        folder.mkdir(parents=True, exist_ok=True)
        library = cls(folder, encoder=encoder)
        info = library.info
        stored = info.get("model")
        if stored is None:
            library.catalog.set_info(name=name, model=json.dumps(spec.to_dict()),
                                     created=time.time(),
                                     vocabulary=vocabulary or DEFAULT_VOCABULARY,
                                     vectors=store or DEFAULT_STORE)
        elif ModelSpec.from_dict(json.loads(stored)) != spec:
            existing = library.spec.label
            library.close()
            raise ModelMismatch(
                f"Library {name!r} was indexed with {existing}; index with that model, "
                f"or choose another --library name for {spec.label}"
            )
        else:
            if vocabulary is not None:
                library.use_vocabulary(vocabulary)
            if store is not None:
                library.use_store(store)
        return library

    @classmethod
    def open(cls, name_or_path: str | Path, home: Path, *,
             encoder: Encoder | None = None) -> Library:
        if is_folder_path(name_or_path):
            folder = Path(name_or_path).expanduser()
            if (folder / DB_NAME).is_file():
                return cls(folder.resolve(), encoder=encoder)
            raise UnknownLibrary(f"No library in the folder {str(name_or_path)!r}: "
                                 "its library.db is missing")
        folder = library_dir(home, checked_name(str(name_or_path)))
        if (folder / DB_NAME).is_file():
            return cls(folder.resolve(), encoder=encoder)
        known = ", ".join(item["name"] for item in list_libraries(home)) or "none yet"
        raise UnknownLibrary(
            f"No library named {str(name_or_path)!r} in {home} (known: {known}); "
            "create one with `rummage index DIR --library NAME`"
        )

    def close(self) -> None:
        with self._lock:
            index = self._index
            self._use_index(None)
        if isinstance(index, MilvusIndex):
            index.close()
        self.catalog.close()

    # -- identity --------------------------------------------------------------------------

    @property
    def info(self) -> dict[str, str]:
        return self.catalog.info()

    @property
    def spec(self) -> ModelSpec:
        return _spec(self.info)

    @property
    def root(self) -> Path | None:
        root = self.info.get("root")
        return Path(root) if root else None

    @property
    def generation(self) -> int:
        return self.catalog.generation

    def __len__(self) -> int:
        return len(self.catalog)

    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = Encoder.load(self.spec)
            return self._encoder

    @property
    def text_encoder(self) -> NumpyTextTower | Encoder:
        """What embeds text: the numpy export of the model's text tower (text_tower.py), made
        on first use and kept beside library.db, so a text search imports no torch; the
        PyTorch encoder itself only for a tower the export does not know."""
        with self._lock:
            if self._text_encoder is None:
                path = self.folder / TEXT_TOWER_NAME
                fingerprint = self.spec.fingerprint()
                tower = NumpyTextTower.load(path, fingerprint)
                if tower is None:
                    tower = self._export_text_tower(path, fingerprint)
                self._text_encoder = tower or self.encoder
            return self._text_encoder

    def _bulk_encoder(self) -> Encoder:
        encoder = self.encoder
        use_threads(bulk_threads())  # torch may have loaded just now, sized for a search
        return encoder

    def _export_text_tower(self, path: Path, fingerprint: str) -> NumpyTextTower | None:
        from retrievers.text_tower import export

        encoder = self.encoder
        try:
            tower = export(encoder.model, encoder.tokenizer, fingerprint)
        except Unsupported:
            return None
        try:
            tower.save(path)
        except OSError:  # a read-only library: this process still uses the tower it made
            pass
        return tower

    @property
    def vocabulary_ref(self) -> str:
        """The vocabulary this library reads text with, as recorded: a name or a file path."""
        return _vocabulary_ref(self.info)

    def use_vocabulary(self, ref: str) -> None:
        """Read requests with another vocabulary from now on; the images stay as they are."""
        with self._lock:
            if ref != self.info.get("vocabulary"):
                self.catalog.set_info(vocabulary=ref)
            self._vocabulary = None

    @property
    def vocabulary(self):
        """The vocabulary itself, as `retrievers.vocabularies.load_vocabulary` reads it."""
        with self._lock:
            if self._vocabulary is None:
                # Imported on first use: indexing and listing never read text.
                from retrievers.vocabularies import VocabularyError, load_vocabulary

                try:
                    self._vocabulary = load_vocabulary(self.vocabulary_ref)
                except VocabularyError as e:
                    raise LibraryError(
                        f"Library {self.name!r} reads requests with the vocabulary "
                        f"{self.vocabulary_ref!r}, which cannot be used ({e}). Choose one with "
                        f"`rummage index DIR --library {self.name} --vocabulary NAME|PATH`"
                    ) from e
            return self._vocabulary

    @property
    def store(self) -> str:
        """Where this library searches its vectors, as recorded ("faiss" when never said)."""
        return _store(self.info)

    def use_store(self, store: str) -> None:
        """Search the vectors in another store from now on; it is filled on the next open."""
        store = checked_store(store)
        with self._lock:
            if store != self.store:
                self.catalog.set_info(vectors=store)
                if isinstance(self._index, MilvusIndex):
                    self._index.close()
                self._use_index(None)

    # -- indexing --------------------------------------------------------------------------

    def index_folder(
        self,
        root: Path,
        *,
        metadata: Mapping[str, dict] | None = None,
        progress: Progress | None = None,
        batch_size: int = 64,
        max_pixels: int = MAX_PIXELS,
        rebuild: bool = False,
        workers: int | None = None,
        look_progress: Progress | None = None,
    ) -> IndexReport:
        """Make the library hold exactly the images under root (incremental, resumable).

        `metadata` maps a path relative to root (with `/`) to the JSON stored in `meta`. The
        index file is patched with what the run changed; rebuild=True trains it anew.
        """
        started = time.perf_counter()
        root = Path(root).expanduser()
        if not root.is_dir():
            raise LibraryError(f"Not a folder: {root}")
        root = root.resolve()
        stored_root = self.root
        if stored_root is not None and stored_root != root:
            raise LibraryError(
                f"Library {self.name!r} indexes {stored_root}; use another --library name "
                f"for {root}"
            )
        self.catalog.set_info(root=str(root))
        if self.store != DEFAULT_STORE:
            self.index  # noqa: B018 -- a store that cannot be reached fails before the embedding
        with threads_for_bulk():
            since = self.generation
            report = Indexer(self.catalog, root, encoder=self._bulk_encoder, metadata=metadata,
                             progress=progress, look_progress=look_progress,
                             batch_size=batch_size,
                             max_pixels=max_pixels, workers=workers).run()
            if self._encoder is not None:  # the model is loaded anyway: export now, not later
                self.text_encoder  # noqa: B018
            self.refresh_index(Changes(since=since, commits=report.commits,
                                       written=report.written_ids, removed=report.removed_ids),
                               rebuild=rebuild)
        report.total = len(self)
        report.seconds = time.perf_counter() - started
        return report

    # -- the index -------------------------------------------------------------------------

    @property
    def index(self) -> VectorIndex:
        with self._lock:
            if self._index is None:
                self._use_index(*self._load_index())
            return self._index

    def refresh_index(self, changes: Changes | None = None, *, rebuild: bool = False) -> None:
        """Bring the index on disk level with the table: patched with `changes` (what this
        process just wrote) when they are all it lacks, else rebuilt; rebuild=True retrains.
        A patch leaves the index unloaded until it is next used."""
        with self._lock:
            self._use_index(*self._load_index(changes, rebuild=rebuild))

    def _use_index(self, index: VectorIndex | MilvusIndex | None,
                   looks: LookFile | None = None) -> None:
        """Search this index from now on, with the looks saved with it, and forget the looks
        read before it: a process's looks and vectors then always describe the same catalog
        (look_cache.py)."""
        self._index = index
        if self._look_file is not None:
            self._look_file.close()
        self._look_file = looks
        self._looks.clear()
        self._paths.clear()

    def _load_index(self, changes: Changes | None = None, *, rebuild: bool = False
                    ) -> tuple[VectorIndex | MilvusIndex | None, LookFile | None]:
        if self.store == DEFAULT_STORE:
            return load_or_rebuild(self.folder, self.catalog, dim=lambda: self.text_encoder.dim,
                                   changes=changes, rebuild=rebuild) or (None, None)
        old = self._index
        try:
            return load_or_sync(self.folder, self.catalog, self.store,
                                dim=lambda: self.text_encoder.dim, changes=changes,
                                rebuild=rebuild), None  # Milvus keeps no looks: library.db's
        except VectorStoreError as e:
            raise LibraryError(f"Library {self.name!r}: {e}") from e
        finally:  # after the new one has its connection: the same one, not a restarted server
            if isinstance(old, MilvusIndex):
                old.close()

    # -- reading ---------------------------------------------------------------------------

    def rows(self, ids: Iterable[int]) -> dict[int, dict]:
        return self.catalog.rows(ids)

    def metadata(self, ids: Iterable[int] | None = None) -> dict[int, dict]:
        """Each image's meta by id (every image's when ids is None), read in one query."""
        return self.catalog.metadata(ids)

    def paths(self, ids: Iterable[int] | None = None) -> dict[int, str]:
        """Each image's file path by id (every image's when ids is None). Those asked for by id
        are kept, as the looks are, until the index is loaded again: every reply reads its
        page's paths, and ten rows from library.db took 0.2-0.27 ms of a 7-10 ms turn at 1M
        images (an image keeps its id and path for as long as it is in the catalog)."""
        if ids is None:
            return self.catalog.paths()
        ids = sorted({int(i) for i in ids})
        with self._lock:
            missing = [i for i in ids if i not in self._paths]
            if missing:
                self._paths.update(self.catalog.paths(missing))
            return {i: self._paths[i] for i in ids if i in self._paths}

    def ids_in_split(self, split: str) -> list[int]:
        """The ids, sorted, whose meta has this "split" ([] for a library without splits)."""
        return self.catalog.ids_in_split(split)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        return self.index.vectors(np.asarray(ids, np.int64))

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        return self.catalog.all_vectors()

    def appearance(self, ids: Sequence[int]) -> np.ndarray:
        """The colour-layout descriptors of these images (zeros for rows indexed before m002),
        read by id: from the file saved with the index (look_file.py), and what it does not
        hold (rows written since, or no file) from library.db, kept (look_cache.py)."""
        with self._lock:
            if self._look_file is None:
                return self._looks.get(ids)
            return self._look_file.get(ids, self._looks.get)

    def _read_looks(self, ids: Sequence[int]) -> np.ndarray:
        """Looks the cache does not keep yet, from library.db by id."""
        return self.catalog.looks(list(ids))

    def skipped(self) -> list[dict]:
        return self.catalog.skipped()

    # -- searching -------------------------------------------------------------------------

    def search_vector(
        self, query: np.ndarray, k: int = 10, *, exclude: Iterable[int] = ()
    ) -> list[Hit]:
        # at most every image: the index pads its answer to k, so -k 10**10 would ask for 37 GB
        k = min(k, max(1, len(self.index)))
        scores, ids = self.index.search(np.asarray(query, np.float32), k, exclude=set(exclude))
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        rows = self.rows(i for i, _ in found)
        return [
            Hit(id=i, path=rows[i]["path"], score=s, meta=rows[i]["meta"])
            for i, s in found if i in rows
        ]

    def search_text(self, text: str, k: int = 10, **kwargs) -> list[Hit]:
        return self.search_vector(self.text_encoder.encode_texts([text])[0], k, **kwargs)

    def search_image(self, path: Path, k: int = 10, **kwargs) -> list[Hit]:
        try:
            decoded = decode(Path(path))
        except BadImage as e:
            raise LibraryError(f"Cannot search with {path}: {e}") from e
        return self.search_vector(self.encoder.encode_images([decoded.image])[0], k, **kwargs)


def checked_store(store: str) -> str:
    """The canonical spelling of a --vectors value, else a LibraryError stating the rule."""
    try:
        return parse_store(store)
    except ValueError as e:
        raise LibraryError(str(e)) from e


def _store(info: Mapping[str, str]) -> str:
    return info.get("vectors") or DEFAULT_STORE


def _spec(info: Mapping[str, str]) -> ModelSpec:
    return ModelSpec.from_dict(json.loads(info.get("model", "{}")))


def _vocabulary_ref(info: Mapping[str, str]) -> str:
    # Libraries made before vocabularies were recorded: the demo model's was the demo library,
    # which read the garment words; any other read the (then mixed) general words.
    legacy = "demo" if _spec(info) == ModelSpec.demo() else DEFAULT_VOCABULARY
    return info.get("vocabulary") or legacy
