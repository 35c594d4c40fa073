"""A deterministic Agent that keeps the agent.api contract, for pinning the chat app's layout.

The real agent's rankings change whenever the demo model is retrained; the snapshots must not.
This fake draws its own tiny catalogue (flat coloured garments), keeps constraints by slot the
way the cascaded memory does ("make it blue" replaces red), judges each result against them
from its own metadata (evidence 0.9 or 0.1, a notice when nothing shown meets them all), and
returns the real Reply, Result, MemoryItem, Exchange, SessionInfo and ImageInfo types.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from PIL import Image, ImageDraw

from agent.api import (
    Exchange,
    ImageInfo,
    MemoryItem,
    NoSuchSession,
    Reply,
    Result,
    SessionInfo,
)

COLORS = {"red": (205, 28, 32), "blue": (45, 115, 235), "green": (30, 150, 55),
          "yellow": (248, 220, 40), "black": (28, 28, 30), "pink": (245, 150, 195)}
CATEGORIES = ("dress", "shirt", "skirt", "trousers")
PATTERNS = ("solid", "striped", "checked")
SLOTS = {**{c: "color" for c in COLORS}, **{c: "category" for c in CATEGORIES},
         **{p: "pattern" for p in PATTERNS}}


def draw(meta: dict, size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size), (236, 232, 226))
    pen = ImageDraw.Draw(image)
    fill = COLORS[meta["color"]]
    shape = {
        "dress": [(24, 8), (40, 8), (52, 58), (12, 58)],
        "shirt": [(14, 10), (50, 10), (58, 26), (48, 28), (48, 56), (16, 56), (16, 28), (6, 26)],
        "skirt": [(20, 14), (44, 14), (54, 52), (10, 52)],
        "trousers": [(18, 8), (46, 8), (50, 58), (36, 58), (32, 26), (28, 58), (14, 58)],
    }[meta["category"]]
    pen.polygon(shape, fill=fill, outline=(40, 40, 40))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).polygon(shape, fill=255)
    if meta["pattern"] != "solid":
        overlay = Image.new("RGB", (size, size), fill)
        draw_overlay = ImageDraw.Draw(overlay)
        for y in range(0, size, 8):
            draw_overlay.rectangle([0, y, size, y + 3], fill=(250, 250, 248))
        if meta["pattern"] == "checked":
            for x in range(0, size, 8):
                draw_overlay.rectangle([x, 0, x + 3, size], fill=(250, 250, 248))
        image.paste(overlay, (0, 0), mask)
    return image


class FakeWorld:
    """The catalogue: n items cycling through every attribute, drawn as PNGs under folder."""

    def __init__(self, folder: Path, n: int = 72) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.items: list[dict] = []
        colors, categories = list(COLORS), list(CATEGORIES)
        for i in range(n):
            meta = {"category": categories[i % 4], "color": colors[(i // 4) % 6],
                    "pattern": PATTERNS[(i // 24) % 3]}
            path = folder / f"item{i:03d}.png"
            if not path.exists():
                draw(meta).save(path)
            self.items.append({"id": i + 1, "path": str(path), "meta": meta})


class FakeSession:
    def __init__(self, agent: FakeAgent, session_id: str) -> None:
        self.agent = agent
        self.id = session_id
        self.constraints: list[tuple[str, int, str | None]] = []  # (word, polarity, slot)
        self.liked: list[int] = []
        self.disliked: set[int] = set()
        self.history: list[Exchange] = []
        self.shown: list[Result] = []

    @property
    def memory(self) -> list[MemoryItem]:
        return [MemoryItem(index=i, label=word if polarity > 0 else f"not {word}", text=word,
                           polarity=polarity, slot=slot)
                for i, (word, polarity, slot) in enumerate(self.constraints)]

    @property
    def last_reply(self) -> Reply | None:
        return self.history[-1].reply if self.history else None

    def say(self, text: str) -> Reply:
        self.agent.calls.append(("say", text))
        lowered = text.lower()
        if "start over" in lowered:
            self.constraints, self.liked = [], []
        for number in re.findall(r"(?:#|not |like )(\d+)", lowered):
            if int(number) > len(self.shown):
                return self._record(text, self._message(
                    f"There is no #{number}: only {len(self.shown)} results are shown."))
        for number in re.findall(r"not (\d+)", lowered):
            self.disliked.add(self.shown[int(number) - 1].id)
        for number in re.findall(r"like (\d+)", lowered):
            self.liked.append(self.shown[int(number) - 1].id)
        lowered = re.sub(r"(?:#|not |like )\d+", " ", lowered)
        for negated, word in re.findall(r"(not |no )?\b([a-z]+)\b", lowered):
            if word in SLOTS:
                self._remember(word, -1 if negated else 1)
        return self._record(text, self._search())

    def like(self, image_id: int) -> Reply:
        self.agent.calls.append(("like", image_id))
        self.liked.append(image_id)
        return self._record("(like)", self._search())

    def dislike(self, image_id: int) -> Reply:
        self.agent.calls.append(("dislike", image_id))
        self.disliked.add(image_id)
        return self._record("(dislike)", self._search())

    def remove_constraint(self, index_or_text: int | str) -> Reply:
        self.agent.calls.append(("remove", index_or_text))
        labels = [item.label for item in self.memory]
        if isinstance(index_or_text, str):
            if index_or_text not in labels:
                return self._message(f"No constraint {index_or_text!r} in memory.")
            index_or_text = labels.index(index_or_text)
        if not 0 <= index_or_text < len(self.constraints):
            return self._message(f"No constraint #{index_or_text} in memory.")
        del self.constraints[index_or_text]
        return self._record("(remove)", self._search())

    def _remember(self, word: str, polarity: int) -> None:
        slot = SLOTS[word] if polarity > 0 else None
        # A later positive value for a slot replaces the earlier one ("make it blue" after red).
        self.constraints = [c for c in self.constraints
                            if c[0] != word and not (slot and c[2] == slot)]
        self.constraints.append((word, polarity, slot))

    def _search(self) -> Reply:
        liked = [item for item in self.agent.world.items if item["id"] in self.liked]

        def score(item: dict) -> float:
            values = set(item["meta"].values())
            total = sum(0.5 if word in values else 0.0
                        for word, polarity, _ in self.constraints if polarity > 0)
            total -= sum(1.0 for word, polarity, _ in self.constraints
                         if polarity < 0 and word in values)
            for other in liked:
                total += 0.1 * len(values & set(other["meta"].values()))
            return round(total, 3)

        def evidence(item: dict) -> dict[str, float]:  # sure of its own meta: 0.9 or 0.1
            values = set(item["meta"].values())
            return {m.label: 0.9 if (m.text in values) == (m.polarity > 0) else 0.1
                    for m in self.memory}

        pool = [item for item in self.agent.world.items if item["id"] not in self.disliked]
        ranked = sorted(pool, key=lambda item: (-score(item), item["id"]))[: self.agent.k]
        self.shown = [Result(rank=rank, id=item["id"], path=item["path"], score=score(item),
                             evidence=evidence(item))
                      for rank, item in enumerate(ranked, 1)]
        summary = " · ".join(m.label for m in self.memory)
        unmatched = self.constraints and not any(
            all(r.meets(label) for label in r.evidence) for r in self.shown)
        return Reply(results=list(self.shown), summary=summary, timings={"fake": 0.0},
                     notice=f"No {summary.replace(' · ', ' ')}; closest first." if unmatched
                     else None)

    def _message(self, message: str) -> Reply:
        return Reply(results=list(self.shown), summary=" · ".join(m.label for m in self.memory),
                     message=message, timings={})

    def _record(self, text: str, reply: Reply) -> Reply:
        self.history.append(Exchange(text=text, reply=reply))
        return reply


class FakeAgent:
    """Agent.open's result, as far as the chat app can tell. Session ids are s-0001, s-0002..."""

    library_name = "fake"
    model_label = "fake-clip"

    def __init__(self, world: FakeWorld, k: int = 10) -> None:
        self.world = world
        self.k = k
        self.size = len(world.items)
        self._sessions: dict[str, FakeSession] = {}
        self.calls: list[tuple] = []
        self.closed = False
        self.notices: list[str] = []

    def warm_up(self) -> None:
        pass

    def new_session(self, session_id: str | None = None) -> FakeSession:
        session_id = session_id or f"s-{len(self._sessions) + 1:04d}"
        session = self._sessions[session_id] = FakeSession(self, session_id)
        return session

    def session(self, session_id: str) -> FakeSession:
        if session_id not in self._sessions:
            raise NoSuchSession(session_id, self.library_name)
        return self._sessions[session_id]

    def sessions(self, limit: int = 50) -> list[SessionInfo]:
        infos = [SessionInfo(id=s.id, created=f"2026-11-23 10:{i:02d}",
                             title=s.history[0].text if s.history else "", turns=len(s.history))
                 for i, s in enumerate(self._sessions.values())]
        return infos[::-1][:limit]

    def image(self, image_id: int) -> ImageInfo:
        item = self.world.items[image_id - 1]
        return ImageInfo(id=image_id, path=item["path"], width=64, height=64,
                         meta=dict(item["meta"]))

    def close(self) -> None:
        self.closed = True


def gated(agent: FakeAgent, gate: threading.Event):
    """An open_agent that waits for gate: a slow model load the test controls."""

    def open_agent() -> FakeAgent:
        if not gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        return agent

    return open_agent
