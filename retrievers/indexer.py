"""Makes a library's catalog hold exactly the images under a folder: incremental and resumable.

Why unchanged files are recognised by size and mtime: hashing 100k photos costs minutes, a stat
costs microseconds; a file whose size and mtime match its row is not read again. A file that was
skipped is likewise not read again until its size or mtime changes.

Why each batch is one transaction: a batch of images is committed with its vectors and the
generation bump in one transaction (`db.atomic()`, through `Catalog.write()`: sqlite-utils'
`execute` commits each write on its own unless a transaction is open, so a plain `with conn:`
block is not one), so a run killed at any moment leaves a table that is true (every file at most
once, each with its vector), and the next run carries on from there.

Why decoding has its own module (decoders.py): on a CPU two threads decode a batch while the
encoder waits (PIL releases the GIL; the encoder wants every core); on a GPU, which Pillow in
threads would starve, worker processes decode the next batches while it embeds this one.
`workers` (or RUMMAGE_INDEX_WORKERS) chooses; the measurements are in decoders.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from retrievers.catalog import Catalog, path_text
from retrievers.decoders import Decoders, workers_for
from retrievers.encoders import Encoder
from retrievers.images import MAX_PIXELS, BadImage, FileEntry, appearance, decode, walk_images

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(kw_only=True)
class IndexReport:
    """What one `index` run did, for the closing summary."""

    seen: int = 0  # image files found under the root
    added: int = 0  # new files embedded
    updated: int = 0  # changed files embedded again
    unchanged: int = 0  # skipped because size and mtime match
    removed: int = 0  # rows of files that are gone
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason
    seconds: float = 0.0
    total: int = 0  # images in the library after the run
    # What the run wrote, so that the index file is patched rather than rebuilt (index_file.py)
    written_ids: list[int] = field(default_factory=list)  # rows embedded, new or again
    removed_ids: list[int] = field(default_factory=list)  # rows of files that are gone
    commits: int = 0  # transactions of this run that moved the catalog's generation on
    looks: int = 0  # unchanged files read again for their look only (catalog.py's m003)

    @property
    def embedded(self) -> int:
        return self.added + self.updated


class Indexer:
    """One run over one folder: `Indexer(catalog, root, encoder=...).run()`."""

    def __init__(
        self,
        catalog: Catalog,
        root: Path,
        *,
        encoder: Callable[[], Encoder],  # called only when some file needs embedding
        metadata: Mapping[str, dict] | None = None,  # path relative to root, with `/` -> meta
        progress: Progress | None = None,
        look_progress: Progress | None = None,  # the looks read again after m003
        batch_size: int = 64,  # images per encoder call and per transaction
        max_pixels: int = MAX_PIXELS,
        workers: int | None = None,  # decoding processes, 0 = threads; None: decoders.py
    ):
        self.catalog = catalog
        self.root = root
        self.encoder = encoder
        self.metadata = metadata or {}
        self.progress = progress
        self.look_progress = look_progress
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.workers = workers
        self.report = IndexReport()
        self._unread_looks: dict[int, FileEntry] | None = None  # id -> file (see _fill_looks)

    def run(self) -> IndexReport:
        """Embed new and changed files, drop the rows of files that are gone; `total` and
        `seconds` are left to the caller, who refreshes the index after this."""
        known = self.catalog.files()
        todo, seen = self._survey(known)
        gone = [row[0] for path, row in known.items() if path not in seen]
        self.report.removed = self.catalog.remove(gone)
        self.report.removed_ids = gone
        self.report.commits += 1 if gone else 0  # remove() bumps the generation when it deletes
        self._embed(todo, known)
        if self._unread_looks is not None:
            self._fill_looks()
        return self.report

    def _survey(self, known) -> tuple[list[FileEntry], set[str]]:
        """The files that need embedding, and every stored path still under the root."""
        skipped_before = self.catalog.skips()
        todo: list[FileEntry] = []
        seen: set[str] = set()
        # unchanged files whose rows lost their look, by path: only after m003
        missing = self.catalog.without_looks() if self.catalog.looks_missing else None
        self._unread_looks = {} if missing is not None else None
        for entry in walk_images(self.root):
            self.report.seen += 1
            key = path_text(entry.path)
            seen.add(key)
            if entry.problem:
                self._skip(entry, entry.problem)
                continue
            row = known.get(key)
            if row and row[1] == entry.size and row[2] == entry.mtime:
                self.report.unchanged += 1
                if missing is not None and key in missing:
                    self._unread_looks[missing[key]] = entry
                continue
            before = skipped_before.get(key)
            if before and before[0] == entry.size and before[1] == entry.mtime:
                self.report.skipped[key] = before[2]
                continue
            todo.append(entry)
        self.catalog.forget_skips(set(skipped_before) - seen)
        return todo, seen

    def _skip(self, entry: FileEntry, reason: str) -> None:
        self.report.skipped[path_text(entry.path)] = reason
        with self.catalog.write():
            self.catalog.record_skip(entry, reason)

    def _embed(self, todo: list[FileEntry], known: dict) -> None:
        done = 0
        if self.progress:
            self.progress(0, len(todo))
        if not todo:
            return
        import torch

        from retrievers.encoders import default_device

        def decoders_for(device: str) -> Decoders:
            return Decoders(workers=workers_for(device, self.workers),
                            max_pixels=self.max_pixels, window=2 * self.batch_size)

        # Guessed from the machine, so that the workers start while the model loads.
        decoders = decoders_for(default_device())
        decoders.start()
        try:
            encoder = self.encoder()
        except BaseException:
            decoders.close()
            raise
        if workers_for(encoder.device, self.workers) != decoders.workers:  # a CPU model, GPU box
            decoders.close()
            decoders = decoders_for(encoder.device)
        half = encoder.dtype == torch.float16
        batches = decoders.batches(todo, self.batch_size, encoder.preprocess, half=half)
        with closing(batches):  # a failed batch stops the workers now, not when collected
            for batch in batches:
                good = [item for item in batch if item.reason is None]
                vectors = encoder.encode_pixels([item.pixels for item in good]) if good else []
                with self.catalog.write():
                    for item in batch:
                        if item.reason is not None:
                            self.report.skipped[path_text(item.entry.path)] = item.reason
                            self.catalog.record_skip(item.entry, item.reason)
                    for item, vector in zip(good, vectors):
                        self._store(item, vector, known)
                    self.catalog.bump_generation()
                self.report.commits += 1
                done += len(batch)
                if self.progress:
                    self.progress(done, len(todo))

    def _fill_looks(self) -> None:
        """Read again the looks that m003 dropped, from files that did not change: decoded and
        described, not embedded (the model is not loaded for it). A file that cannot be decoded
        now keeps no look. Each batch is one transaction, as embedding's are."""
        todo = sorted(self._unread_looks.items())
        if self.look_progress:
            self.look_progress(0, len(todo))
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            looks = []
            for image_id, entry in batch:
                try:
                    looks.append((image_id, appearance(decode(entry.path, self.max_pixels).image)))
                except BadImage:
                    continue
            with self.catalog.write():
                self.catalog.set_looks(looks)
                self.catalog.bump_generation()
            self.report.commits += 1
            self.report.looks += len(looks)
            self.report.written_ids += [image_id for image_id, _ in looks]
            if self.look_progress:
                self.look_progress(start + len(batch), len(todo))
        with self.catalog.write():  # a run killed before this reads what is left next time
            self.catalog.looks_found()

    def _store(self, item, vector, known: dict) -> None:
        entry = item.entry
        key = path_text(entry.path)
        existing = known.get(key)
        meta = self.metadata.get(entry.path.relative_to(self.root).as_posix(), {})
        # upsert reads the digest and the size from `decoded`, which a Prepared carries
        row_id = self.catalog.upsert(entry, item, meta=meta, vector=vector, look=item.look,
                                     row_id=existing[0] if existing else None)
        self.report.written_ids.append(row_id)
        if existing:
            self.report.updated += 1
        else:
            self.report.added += 1
            known[key] = (row_id, entry.size, entry.mtime)
