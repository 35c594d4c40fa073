"""Robustness of understanding on real crowd-written text: every sentence of the corpora
through the dialogue-act reader and the rule decomposer.

Counts errors (any exception but one: a turn that points at a rank no page shows, "#92", is
answered with a one-line message in the product, and is counted apart as "refused"), memory items that are only function words ("on", "there",
"boat on" is caught by its last word; an open compound such as "button up" is one word, as the
decomposer reads it: `words`; a picture said with a word of its own, "blue image", is a print
on the thing and no function word), and the time per sentence (interpret + decompose).
The corpora are not part of the project (see ../shared/corpora/README.md); point --corpora at
them. Prints a table and writes JSON.

    python benchmarks/corpora_check.py --corpora ../shared/corpora [--out bench-out/corpora.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from agent.decompose import _FUNCTION, PICTURE_WORDS, decompose, words
from agent.interpret import UnknownReference
from agent.understand import understand
from retrievers.vocabularies import load_vocabulary

# which vocabulary reads which corpus: garments for the fashion sets, photos for the rest
SOURCES = {
    "fashion-iq": "demo", "multiturn-fashioniq": "demo", "shoes": "demo",
    "cirr": "photos", "chatir": "photos", "imagecode": "photos",
}


def sentences(folder: Path, corpus: str):
    """Every sentence a person wrote in one corpus folder."""
    for path in sorted((folder / corpus).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        yield from _strings(data, corpus, path.name)


def _strings(data, corpus: str, name: str):
    if corpus == "fashion-iq" and isinstance(data, list):
        for item in data:
            yield from item.get("captions", [])
    elif corpus == "multiturn-fashioniq":
        for session in data if isinstance(data, list) else data.values():
            for turn in session.get("reference", []):
                feedback = turn[1] if len(turn) > 1 else []
                yield from (f for f in feedback if isinstance(f, str))
    elif corpus == "shoes" and name.startswith("relative"):
        for item in data:
            if isinstance(item, dict) and item.get("RelativeCaption"):
                yield item["RelativeCaption"]
    elif corpus == "cirr":
        yield from (item["caption"] for item in data if item.get("caption"))
    elif corpus == "chatir":
        for dialog in data if isinstance(data, list) else data.values():
            turns = dialog.get("dialog", dialog) if isinstance(dialog, dict) else dialog
            yield from (t for t in turns if isinstance(t, str))
    elif corpus == "imagecode" and isinstance(data, dict):
        for frames in data.values():
            if isinstance(frames, dict):
                yield from (d for d in frames.values() if isinstance(d, str))


def check(text: str, vocabulary) -> tuple[list[str], float]:
    started = time.perf_counter()
    turn = understand(text, 10)
    found = decompose(turn.text, vocabulary) if turn.act == "refine" and turn.text else []
    elapsed = time.perf_counter() - started
    bad = []
    for p in found:
        said = words(p.text)
        only_function = all(word in _FUNCTION for word in said)
        # a picture said with a word of its own is a print on the thing ("blue image"), a
        # noun of content (decompose._PICTURED_PART), not a function word left dangling
        printed = said and said[-1] in PICTURE_WORDS and len(said) > 1
        if (only_function and not p.relative) or (said and said[-1] in _FUNCTION
                                                  and not only_function and not printed):
            bad.append(p.text)
    return bad, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", required=True, help="folder of the corpora")
    parser.add_argument("--out", default="bench-out/corpora.json")
    args = parser.parse_args()
    folder = Path(args.corpora)
    vocabularies = {name: load_vocabulary(name) for name in set(SOURCES.values())}
    report, times, garbage, errors, refused = {}, [], Counter(), [], []
    for corpus, vocabulary in SOURCES.items():
        count = function_items = 0
        acts: Counter = Counter()
        for text in sentences(folder, corpus):
            count += 1
            try:
                bad, elapsed = check(text, vocabularies[vocabulary])
                acts[understand(text, 10).act] += 1
            except UnknownReference as e:
                refused.append((corpus, text, str(e)))
                continue
            except Exception as e:  # noqa: BLE001 - the point is to count every failure
                errors.append((corpus, text, f"{type(e).__name__}: {e}"))
                continue
            times.append(elapsed)
            function_items += len(bad)
            garbage.update(bad)
        report[corpus] = {"sentences": count, "function_word_items": function_items,
                          "acts": dict(acts)}
    summary = {
        "sentences": sum(r["sentences"] for r in report.values()),
        "errors": len(errors),
        "refused": len(refused), "refused_examples": refused[:10],
        "function_word_items": sum(r["function_word_items"] for r in report.values()),
        "median_ms": float(np.median(times) * 1000) if times else None,
        "p95_ms": float(np.percentile(times, 95) * 1000) if times else None,
        "corpora": report, "commonest_function_items": garbage.most_common(10),
        "first_errors": errors[:10],
    }
    print(f"{'corpus':22} {'sentences':>9} {'fn-items':>8}  acts")
    for corpus, r in report.items():
        print(f"{corpus:22} {r['sentences']:9d} {r['function_word_items']:8d}  {r['acts']}")
    print(f"total {summary['sentences']} sentences, {summary['errors']} errors, "
          f"{summary['refused']} refused (a rank no page shows), "
          f"{summary['function_word_items']} function-word items, median "
          f"{summary['median_ms']:.3f} ms, p95 {summary['p95_ms']:.3f} ms per sentence")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
