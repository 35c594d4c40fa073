"""CLIP's byte-pair tokenizer without torch or open_clip: text to token ids as a numpy array.

Why a copy of open_clip's SimpleTokenizer (MIT, from OpenAI's CLIP): `import open_clip.tokenizer`
runs open_clip's package __init__, which imports torch, torchvision (and through it
torch._dynamo), timm and transformers: 2.3 s of a 6.2 s cold `rummage search` whose own work is
30 ms. This module needs only regex, gzip and numpy (and ftfy for text that is not plain ASCII),
and reads open_clip's vocabulary file from where pip put it, without importing the package.
Its output is checked against open_clip's tokenizer when a text tower is exported
(text_tower.py), and in tests/retrievers/test_text_tower.py.

Only the default cleaning ("lower") and truncation are copied: a model configured otherwise
(canonicalize, a reduction mask, a Hugging Face tokenizer) keeps open_clip's tokenizer.
"""

from __future__ import annotations

import functools
import gzip
import html
import importlib.util
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import regex

VOCABULARY_FILE = "bpe_simple_vocab_16e6.txt.gz"
MERGES = 49152 - 256 - 2  # as open_clip reads the file
SPECIAL = ("<start_of_text>", "<end_of_text>")


class TokenizerUnavailable(Exception):
    """open_clip's vocabulary file is not installed where we look."""


def vocabulary_path() -> Path:
    """open_clip's bundled BPE file, found without importing open_clip (find_spec of a top-level
    package does not run its __init__)."""
    spec = importlib.util.find_spec("open_clip")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / VOCABULARY_FILE
        if path.is_file():
            return path
    raise TokenizerUnavailable(f"open_clip's {VOCABULARY_FILE} was not found")


@functools.cache
def _byte_to_unicode() -> dict[int, str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


def _clean(text: str) -> str:
    """open_clip's "lower" cleaning. ftfy (0.15 s to import) cannot change printable ASCII
    without "&" (it only unescapes entities, which html.unescape below does anyway), so such
    text, nearly every query, skips it."""
    if not (text.isascii() and text.isprintable() and "&" not in text):
        import ftfy

        text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).strip().lower()


@functools.cache
def _merges(path: Path | None = None) -> tuple[tuple[str, ...], ...]:
    """The byte-pair merges of the vocabulary file, read once per process (the tokenizer and
    `whole_words` share them: 0.15 s to read)."""
    with gzip.open(path or vocabulary_path()) as f:
        lines = f.read().decode("utf-8").split("\n")
    return tuple(tuple(line.split()) for line in lines[1 : MERGES + 1])


@functools.cache
def whole_words() -> frozenset[str]:
    """The words CLIP's tokenizer holds as one token: 34,227 words as the web writes them
    ("lower", "plaid", "desert"), and not the slips typed into a search box ("strped",
    "lenght", "sleevless"). Empty where the vocabulary file is not installed."""
    try:
        merges = _merges(None)  # the key the tokenizer's own read is cached under
    except (TokenizerUnavailable, OSError):
        return frozenset()
    return frozenset("".join(m)[:-4] for m in merges if m[-1].endswith("</w>"))


class ClipTokenizer:
    """Token ids exactly as open_clip's SimpleTokenizer(context_length) gives them."""

    def __init__(self, context_length: int = 77, path: Path | None = None):
        self.context_length = context_length
        merges = list(_merges(path))
        units = list(_byte_to_unicode().values())
        vocab = [*units, *(u + "</w>" for u in units), *("".join(m) for m in merges), *SPECIAL]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {merge: i for i, merge in enumerate(merges)}
        self.sot, self.eot = self.encoder[SPECIAL[0]], self.encoder[SPECIAL[1]]
        self._cache = {t: t for t in SPECIAL}
        self._pattern = regex.compile(
            "|".join(SPECIAL) + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), context_length) int64 ids: start, the text's ids, end, zeros after; a
        text too long is cut and ends with the end token, as open_clip does."""
        out = np.zeros((len(texts), self.context_length), np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot
            out[row, : len(ids)] = ids
        return out

    def encode(self, text: str) -> list[int]:
        byte_unit = _byte_to_unicode()
        ids = []
        for piece in self._pattern.findall(_clean(text)):
            piece = "".join(byte_unit[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[unit] for unit in self._bpe(piece).split(" "))
        return ids

    def _bpe(self, token: str) -> str:
        if token in self._cache:
            return self._cache[token]
        word = (*token[:-1], token[-1] + "</w>")
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            best = min(pairs, key=lambda pair: self.ranks.get(pair, float("inf")))
            if best not in self.ranks:
                break
            first, second = best
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        self._cache[token] = result = " ".join(word)
        return result
