"""The vocabularies rummage ships, and the loader of vocabulary files (a user's own included).

Shipped vocabularies are data files in one registry, as open_clip keeps its model configs:
`photos` (photos.json beside this file, the default for a folder of photos) and `demo` (the
demo world's garments, retrievers/demo/vocabulary.json). A user's file may `extend` one of them
or another file; a relative `extends` is read from the extending file's folder, so the two can
move together. Everything is checked when it is read (templates, slot names, types, circles),
so a mistake is one `VocabularyError` naming the file, never a failure in the middle of a search.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path

from retrievers.vocabulary import (
    Comparative,
    Example,
    Slot,
    Value,
    Vocabulary,
    VocabularyError,
    normalize,
)

HERE = Path(__file__).parent
SHIPPED: dict[str, Path] = {
    "photos": HERE / "photos.json",
    "demo": HERE.parent / "demo" / "vocabulary.json",
}
DEFAULT = "photos"


def list_vocabularies() -> list[str]:
    return sorted(SHIPPED)


def load_vocabulary(ref: str | Path) -> Vocabulary:
    """A shipped vocabulary by name ("photos", "demo") or a JSON file by path."""
    return _load(str(ref))


@functools.lru_cache(maxsize=16)
def _load(ref: str) -> Vocabulary:
    path = _where(ref, Path.cwd())
    data = _raw(ref, Path.cwd(), ())
    try:
        return from_dict(data, source=str(path))
    except VocabularyError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as e:
        raise VocabularyError(f"{path}: not a vocabulary ({type(e).__name__}: {e}); see "
                              "docs/vocabulary.md for the format") from e


def _where(ref: str, here: Path) -> Path:
    """A shipped name's file, or a path; a relative path is read from `here` (the folder of
    the file that names it), so a vocabulary and the one it extends can move together."""
    if ref in SHIPPED:
        return SHIPPED[ref]
    path = Path(ref).expanduser()
    return path if path.is_absolute() else here / path


def _raw(ref: str, here: Path, seen: tuple[Path, ...]) -> dict:
    """The file's JSON with everything it extends merged beneath it."""
    path = _where(ref, here)
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise VocabularyError(f"Vocabularies extend each other in a circle: {chain}")
    data = _read(path, ref)
    base = data.get("extends")
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise VocabularyError(f"{path}: 'extends' names a vocabulary or a file, got {base!r}")
    try:
        return merge(_raw(base, path.parent, (*seen, path.resolve())), data)
    except VocabularyError:
        raise
    except (KeyError, TypeError, AttributeError) as e:
        raise VocabularyError(f"{path}: cannot extend {base!r} ({type(e).__name__}: {e}); "
                              "every slot needs a 'name' and 'values'") from e


def _read(path: Path, ref: str) -> dict:
    if not path.is_file():
        raise VocabularyError(
            f"No vocabulary {ref!r}: use one of {', '.join(list_vocabularies())} or the path of "
            "a JSON file (its format: docs/vocabulary.md)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VocabularyError(f"Cannot read the vocabulary {path}: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("slots", []), list):
        raise VocabularyError(f"{path}: a vocabulary is a JSON object with a list of 'slots'")
    return data


def merge(base: Mapping, extra: Mapping) -> dict:
    """`extra` on top of `base`: its slots are added, or extend the slot of the same name
    (new values appended, spellings of an existing value added to it)."""
    out = {**base, **{k: v for k, v in extra.items() if k not in ("slots", "extends")}}
    slots = [dict(s, values=[dict(v) for v in s.get("values", [])]) for s in base["slots"]]
    by_name = {s["name"]: s for s in slots}
    for slot in extra.get("slots", []):
        mine = by_name.get(slot["name"])
        if mine is None:
            slots.append(dict(slot))
            continue
        mine.update({k: v for k, v in slot.items() if k not in ("values", "name")})
        values = {v["value"]: v for v in mine["values"]}
        for value in slot.get("values", []):
            if value["value"] in values:
                old = values[value["value"]]
                for key in ("spellings", "nouns"):
                    old[key] = list(dict.fromkeys([*old.get(key, []), *value.get(key, [])]))
            else:
                mine["values"].append(dict(value))
    out["slots"] = slots
    mine = {c["name"]: c for c in extra.get("comparatives", [])}
    out["comparatives"] = [mine.pop(c["name"], c) for c in base.get("comparatives", [])]
    out["comparatives"] += list(mine.values())
    out["sentence_order"] = list(dict.fromkeys(
        [*base.get("sentence_order", []), *extra.get("sentence_order", [])]))
    return out


def from_dict(data: Mapping, source: str = "") -> Vocabulary:
    """A checked Vocabulary: a bad template or a dangling slot name fails here, in one line
    that names the file, not later in the middle of a search."""
    where = source or data.get("name", "vocabulary")
    try:
        slots = tuple(_slot(s) for s in data["slots"])
        llm = data.get("llm", {})
        vocabulary = Vocabulary(
            name=str(data.get("name") or Path(source).stem),
            description=str(data.get("description", "")),
            default_noun=str(data.get("default_noun", "photo")),
            sentence_order=tuple(_strings(data.get("sentence_order", []), "sentence_order")),
            who=str(llm.get("who", "person")),
            phrases=str(llm.get("phrases", "")),
            examples=tuple(Example(request=e["request"], lines=tuple(e["lines"]))
                           for e in llm.get("examples", ())),
            slots=slots,
            comparatives=tuple(_comparative(c) for c in data.get("comparatives", ())),
            source=source,
        )
    except VocabularyError as e:
        raise VocabularyError(f"{where}: {e}") from e
    except (KeyError, TypeError, AttributeError) as e:
        raise VocabularyError(f"{where}: not a vocabulary ({type(e).__name__}: {e}); every slot "
                              "needs a 'name' and 'values' of {'value': ...}") from e
    _check(vocabulary)
    return vocabulary


def _strings(value, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise VocabularyError(f"'{what}' must be a list of strings, got {value!r}")
    return value


def _check(vocabulary: Vocabulary) -> None:
    where = vocabulary.source or vocabulary.name
    names = set(vocabulary.slot_order)
    for name in vocabulary.sentence_order:
        if name not in names:
            raise VocabularyError(f"{where}: sentence_order names no slot {name!r}")
    for comparative in vocabulary.comparatives:
        if comparative.slot is not None and comparative.slot not in names:
            raise VocabularyError(f"{where}: comparative {comparative.name!r} names no slot "
                                  f"{comparative.slot!r}")
    for slot in vocabulary.slots:
        for flag in ("binds", "ground_differs"):
            if not isinstance(getattr(slot, flag), bool):
                raise VocabularyError(f"{where}: {flag!r} of slot {slot.name!r} must be true or "
                                      "false")
        if slot.kind not in ("head", "noun", "attribute") or slot.place not in ("before", "with"):
            raise VocabularyError(f"{where}: slot {slot.name!r} has kind {slot.kind!r} and place "
                                  f"{slot.place!r}; use kind head|noun|attribute, place before|with")
        if slot.colored_by is not None and slot.colored_by not in names:
            raise VocabularyError(f"{where}: slot {slot.name!r} is colored_by {slot.colored_by!r}"
                                  ", which is not a slot")
        templates = [(slot.prompt, "prompt"), (slot.colored_prompt, "colored_prompt"),
                     *((v.prompt, f"prompt of {v.value!r}") for v in slot.values if v.prompt)]
        for template, what in templates:
            try:
                template.format(value="v", noun="n", color="c", pattern="p")
            except (KeyError, IndexError, ValueError) as e:
                raise VocabularyError(
                    f"{where}: the {what} of slot {slot.name!r} ({template!r}) cannot be filled "
                    "(use {value} and {noun}; {color} and {pattern} in colored_prompt)") from e


def _comparative(data: Mapping) -> Comparative:
    step = data.get("step", 0)
    if step not in (-1, 0, 1):
        raise VocabularyError(f"'step' of comparative {data.get('name')!r} must be -1, 0 or 1")
    return Comparative(name=normalize(data["name"]),
                       spellings=tuple(_strings(data.get("spellings", []), "spellings")),
                       toward=str(data.get("toward", "")), away=str(data.get("away", "")),
                       slot=data.get("slot"), step=int(step))


def _slot(data: Mapping) -> Slot:
    for v in data["values"]:
        if not isinstance(v.get("contrast", True), bool):
            raise VocabularyError(f"'contrast' of {v['value']!r} must be true or false")
    values = tuple(
        Value(value=normalize(v["value"]), spellings=tuple(_strings(v.get("spellings", []),
                                                                    "spellings")),
              nouns=tuple(_strings(v.get("nouns", []), "nouns")),
              contrast=v.get("contrast", True), prompt=v.get("prompt"),
              families=tuple(normalize(f) for f in _strings(v.get("families", []), "families")))
        for v in data["values"])
    names = {value.value for value in values}
    for value in values:
        for family in value.families:
            if family not in names or family == value.value:
                raise VocabularyError(f"family {family!r} of {value.value!r} is not another "
                                      f"value of slot {data['name']!r}")
    known = {k: data[k] for k in ("kind", "place", "prompt", "colored_by", "colored_prompt",
                                  "ground_differs", "negated_name", "binds") if k in data}
    return Slot(name=data["name"], names=tuple(data.get("names", ())),
                modifiers=tuple(data.get("modifiers", ())), values=values, **known)
