"""From a memory state to ranked images: the fused query, FAISS candidates, and the rerank.

Decisions (numbers from `rummage eval` on the demo library, see README):
- The first-stage query fuses, training-free, one sentence rendering every wanted constraint
  ("long navy dress with short sleeves and white polka dots") with the mean of the constraints'
  own embeddings; a reference image of "like 4 but green" is mixed in with weight
  `reference_mix`; liked images pull and disliked ones push (Rocchio). Negatives are left to
  the reranker: a CLIP text embedding of "not checked" is close to "checked".
- Every proposition is scored against the same proposition with its slot's other values
  (its alternatives): "blue dress" against "red dress", "green dress", ...; "dog" against
  "cat", "horse", ... The values and their phrasing come from the library's vocabulary
  (retrievers.vocabulary), whose slots list the values worth contrasting; a value outside that
  list ("teal") is contrasted with the listed ones.
- Attribute propositions are phrased with the head noun in force ("long" → "long dress"),
  because a bare adjective is a weak prompt for CLIP.
- Image feedback (liked, disliked, the reference) compares the embedding *and* a colour-layout
  descriptor (`look`), because "more like 3" means "looks like 3": garments with the same
  attributes embed almost alike (cosine spread 0.003–0.007 among demo twins, whose rank
  correlation with pixel similarity is only 0.3–0.46), while the 8x8 layout tracks it (0.85–0.92).
  Images are compared by `likeness` (minus half the squared distance of these features), because
  the layout keeps its colours and so is not of unit length (retrievers/images.py: among twins
  it ranks as the simulated shopper's pixel distance does with correlation 0.93, against 0.59
  for the mean-removed unit layout it replaced).
- The reranker's per-proposition probabilities come back with the order (`rank_with_evidence`),
  so a reply can say why each result is there without scoring twice. When no result of the page
  meets every constraint (each at >= 0.5: the value more likely than all its alternatives
  together, see retrievers/rerank.py), `unmatched_notice` says so in the vocabulary's words
  and the page still shows the closest: the floor labels results, it never filters them.
- Weights, measured with the simulated user (60 episodes x 10 turns, 20k demo library;
  Hits@10 at turns 5 / 10, found at top 1 by turn 10):
    temperature 100, no look, reference 6, disliked 4   0.67 / 0.85 / 0.62
    the model's logit scale (~22), look 1                0.72 / 0.92 / 0.72
    ... and reference 2, disliked 1                      0.82 / 0.98 / 0.87
    ... with look 2 instead                              0.77 / 0.93 / 0.82
    no rerank at all                                      0.67 / 0.75 / 0.52 (8 turns)
  and on 100 episodes with the final model (same columns):
    reference 2, disliked 1, liked 4                      0.79 / 0.93 / 0.80
    ... liked 8                                           0.81 / 0.94 / 0.83
    ... liked 8, newer likes count more (0.6 per like)    0.82 / 0.93 / 0.89  (the defaults)
    ... and look 2                                        0.81 / 0.92 / 0.91
  and on 150 episodes, the near-tied first page spread over looks (MMR, `diversity`):
    without                                               0.82 / 0.95 / 0.89
    diversity 0.5 / 2 / 4 (4 is the default)              0.82 / 0.95 / 0.89, 0.85 / 0.96 /
                                                          0.93, 0.87 / 0.96 / 0.93
  Why it helps: among twins, a page of ten look-alikes gives the user nothing to choose between;
  a varied page lets "more like 3" say something.
  and on 200 episodes each of seeds 0 / 2 (Hits@10 at turn 5), once a like counts as a choice
  over its page (retrievers/rerank.py):
    reference 2 (the default) / 3 / 3.5 / 4 / 5 / 6    0.85, 0.86 / 0.865, 0.88 / 0.87, 0.875 /
                                                        0.87, 0.875 / 0.86, 0.86 / 0.845, 0.845
  Not taken: at 3.5 the held-out seed 1 moved by 0.005 only (0.84 -> 0.845), and "like 4 but
  in green" put a red twin of 4 at the top of the test catalogue's page (the picture's pull
  beat the change the person asked for; tests/agent/test_stories.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from memory.cascade import QueryState
from retrievers.library import Library
from retrievers.rerank import (
    SATISFIED,
    ContrastScorer,
    Criterion,
    ImageTerms,
    PropositionScorer,
    RerankWeights,
    SoftLogicReranker,
    likeness,
)
from retrievers.vocabulary import Vocabulary


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    candidates: int = 400  # FAISS candidates per turn that the reranker orders
    rerank: bool = True  # False: the first-stage order is final (the no-rerank ablation)
    reference_mix: float = 0.5  # share of the reference image in "like #k but ..." (0..1)
    liked_pull: float = 0.3  # Rocchio weight of the mean liked image
    disliked_push: float = 0.15  # Rocchio weight of the mean disliked image
    exclude_disliked: bool = True  # rejected images never come back
    look: float = 1.0  # weight of the colour-layout descriptor in image-to-image similarity
    liked_decay: float = 0.6  # weight of a liked image per newer like (1: all count the same)
    diversity: float = 4.0  # MMR weight that spreads near-tied results over different looks
    tie_margin: float = 1.0  # score distance from the best within which results count as tied
    relative_push: float = 0.3  # weight of a comparative's text direction ("darker") in the query
    weights: RerankWeights = field(default_factory=RerankWeights)


class Engine:
    """Retrieval and reranking over one library; shared by every session of an Agent."""

    def __init__(self, library: Library, config: EngineConfig = EngineConfig(),
                 scorer: PropositionScorer | None = None, vocabulary: Vocabulary | None = None):
        self.library = library
        self.config = config
        self.scorer = scorer
        self.vocabulary = vocabulary or library.vocabulary
        # what a constraint is scored against and the sentence of the wanted ones, by their
        # words: a conversation asks for the same ones at every turn, and rendering them took
        # 0.3 ms of a 6-7 ms turn at 1M images (40 prompts a turn; benchmarks/scale_bench.py)
        self._prompts = functools.lru_cache(maxsize=4096)(self._prompts_of)
        self._sentence = functools.lru_cache(maxsize=1024)(self.vocabulary.render_sentence)

    @property
    def encoder(self):
        return self.library.text_encoder  # the engine only embeds text

    # -- first stage -----------------------------------------------------------------------

    def query_vector(self, state: QueryState) -> np.ndarray:
        wanted = [c for c in state.constraints if c.polarity > 0]
        vector = np.zeros(self.encoder.dim, np.float32)
        if wanted:
            weights = np.array([c.weight(state.turn) for c in wanted], np.float32)
            own = self.encoder.encode_texts([c.text for c in wanted])
            sentence = self.encoder.encode_texts([self._sentence(
                tuple((c.text, c.slot) for c in wanted))])[0]
            vector = _unit(sentence + (weights[:, None] * own).sum(0) / weights.sum())
        elif state.reference is None and not state.liked:
            vector = self.encoder.encode_texts(["a photo"])[0]
        if state.reference is not None:
            image = self.library.vectors([state.reference.image_id])[0]
            mix = self.config.reference_mix if wanted else 1.0
            vector = _unit((1 - mix) * vector + mix * image)
            if state.reference.relative:
                vector = _unit(vector + self.config.relative_push
                               * self.direction(state.reference.relative, state))
        if state.liked:
            vector = vector + self.config.liked_pull * self.library.vectors(state.liked).mean(0)
        if state.disliked:
            vector = vector - self.config.disliked_push * self.library.vectors(
                state.disliked).mean(0)
        return _unit(vector)

    def retrieve(self, state: QueryState,
                 want: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """First-stage candidates (ids, cosines, embeddings), best first; rejected images left
        out. The embeddings come with the search, which has just read them (index.py), for the
        rerank; None when nothing reranks."""
        exclude = set(state.disliked) if self.config.exclude_disliked else set()
        exclude |= set(state.passed)  # "none of these": the next page brings new images
        found = self.library.index.search(self.query_vector(state), want, exclude=exclude,
                                          vectors=self.config.rerank)
        keep = found[1][0] >= 0
        vectors = found[2][0][keep] if self.config.rerank else None
        return found[1][0][keep], found[0][0][keep], vectors

    # -- comparatives ("darker", "like 3 but longer") -----------------------------------------

    def _noun(self, state: QueryState) -> str | None:
        return self.vocabulary.head_of((c.text, c.slot) for c in state.constraints
                                       if c.polarity > 0)

    def direction(self, names, state: QueryState) -> np.ndarray:
        """The text direction of comparatives, training-free as in prompt-directional
        composed retrieval: embed("dark dress") - embed("light dress"), one unit per name."""
        noun = self._noun(state) or self.vocabulary.default_noun
        total = np.zeros(self.encoder.dim, np.float32)
        for name in names:
            found = self.vocabulary.comparative(name)
            if found is None or not found.toward:
                continue
            toward, away = self.encoder.encode_texts([f"{found.toward} {noun}",
                                                      f"{found.away} {noun}"])
            total += _unit(toward - away)
        return total

    def implied(self, names, image_id: int, state: QueryState) -> list:
        """What comparatives mean on a scale the vocabulary orders ("longer" than the image's
        knee-length: long): the image's own value is read zero-shot from its embedding; one
        value left beyond it is wanted, several are allowed by ruling out the rest."""
        from agent.decompose import Proposition

        words = self.vocabulary
        noun = self._noun(state)
        image = self.library.vectors([image_id])[0]
        out: list[Proposition] = []
        for name in names:
            found = words.comparative(name)
            slot = words.slot(found.slot) if found is not None else None
            if slot is None or not found.step:
                continue
            values = [v.value for v in slot.values]
            prompts = [words.render(v, slot.name, noun) for v in values]
            own = int(np.argmax(self.encoder.encode_texts(prompts) @ image))
            beyond = values[own + 1:] if found.step > 0 else values[:own]
            if len(beyond) == 1:
                out.append(Proposition(text=beyond[0], polarity=1, said=name))
            elif beyond:
                ruled_out = values[:own + 1] if found.step > 0 else values[own:]
                out += [Proposition(text=v, polarity=-1, said=name) for v in ruled_out]
        return out

    # -- rerank ----------------------------------------------------------------------------

    def criteria(self, state: QueryState) -> list[Criterion]:
        noun = self._noun(state)
        out = []
        for c in state.constraints:
            text, alternatives, grounds = self._prompts(c.text, c.slot, noun)
            out.append(Criterion(text=text, polarity=c.polarity, weight=c.weight(state.turn),
                                 alternatives=alternatives, grounds=grounds))
        return out

    def _prompts_of(self, text: str, slot: str | None, noun: str | None
                    ) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
        """A value's prompt, the prompts it is contrasted with, and its grounds."""
        words = self.vocabulary
        return (words.render(text, slot, noun), tuple(words.contrasts(text, slot, noun)),
                words.grounds(text, slot, noun))

    def image_features(self, ids) -> np.ndarray:
        """What image feedback compares: the embedding, and the look when it has a weight."""
        return self._combine(self.library.vectors(ids), self.library.appearance(ids))

    def _combine(self, vectors: np.ndarray, looks: np.ndarray) -> np.ndarray:
        if self.config.look <= 0:
            return vectors
        # written into one array: hstack, then astype, copied the 400 rows twice
        width = vectors.shape[1]
        out = np.empty((len(vectors), width + looks.shape[1]), np.float32)
        out[:, :width] = vectors
        out[:, width:] = looks * np.sqrt(self.config.look)  # float64, rounded as astype did
        return out

    def rank(self, state: QueryState, ids: np.ndarray, first_stage: np.ndarray,
             k: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidates reranked, best first, with a varied first page among near ties."""
        ids, final, _ = self.rank_with_evidence(state, ids, first_stage, k)
        return ids, final

    def rank_with_evidence(self, state: QueryState, ids: np.ndarray, first_stage: np.ndarray,
                           k: int, vectors: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`rank`, and the evidence rows in the same order: (n, n_constraints) probabilities that
        each image satisfies each of `state.constraints`, in their order (see rerank.py).

        Looks are read only where they count: every candidate's when image feedback compares
        them, else only the near-tied pool that diversify spreads (often all 400). Reading 400
        from library.db was the largest part of a turn at 1M images (3.8 ms of a 20 ms turn
        under cProfile, scale_bench.py's library); the library keeps them beside the index
        (look_file.py). `vectors`: the candidates' embeddings where the caller has them
        (`retrieve`), else read by id.
        """
        if vectors is None:
            vectors = self.library.vectors(ids)
        compared = bool(state.liked or state.disliked or state.reference is not None
                        or state.choices)
        looks = self.library.appearance(ids) if compared and self.config.look > 0 else None
        features = vectors if looks is None else self._combine(vectors, looks)
        final, evidence = self.rerank_with_evidence(state, ids, first_stage, vectors, features)
        order = np.argsort(-final, kind="stable")
        if self.config.diversity > 0:
            size = pool_size(final[order], self.config.tie_margin)
            if size:
                pool = looks[order[:size]] if looks is not None else self.library.appearance(
                    ids[order[:size]])
                page = diversify(np.arange(len(order)), final[order], pool, k,
                                 self.config.diversity, self.config.tie_margin)
                order = order[page]
        return ids[order], final[order], evidence[order]

    def unmatched_notice(self, state: QueryState, evidence) -> str | None:
        """One line when no row of `evidence` (a page, rows as from `rank_with_evidence`) meets
        every constraint, else None.

        "No navy checked skirt, not striped; closest first." The request is named in the
        vocabulary's words (its sentence of the wanted values, or its default noun when only
        negatives are in force, then the negatives' labels), so it reads the same as the
        prompts. No constraints, or no evidence (the no-rerank ablation): nothing to say.
        """
        evidence = np.asarray(evidence, np.float32)
        if not state.constraints or evidence.size == 0:
            return None
        if np.any(np.all(evidence >= SATISFIED, axis=1)):
            return None
        wanted = [(c.text, c.slot) for c in state.constraints if c.polarity > 0]
        words = self.vocabulary
        parts = [words.render_sentence(wanted) if wanted else words.default_noun]
        parts += [c.label for c in state.constraints if c.polarity < 0]
        return f"No {', '.join(parts)}; closest first."

    def rerank(self, state: QueryState, ids: np.ndarray, first_stage: np.ndarray,
               vectors: np.ndarray, features: np.ndarray) -> np.ndarray:
        """A score per candidate; `vectors` are their embeddings, `features` image_features()."""
        return self.rerank_with_evidence(state, ids, first_stage, vectors, features)[0]

    def rerank_with_evidence(self, state: QueryState, ids: np.ndarray, first_stage: np.ndarray,
                             vectors: np.ndarray,
                             features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`rerank`'s scores and the (n, n_constraints) evidence behind them, computed once."""
        images = ImageTerms(
            liked=self.image_features(state.liked) if state.liked else ImageTerms().liked,
            disliked=(self.image_features(state.disliked) if state.disliked
                      else ImageTerms().disliked),
            reference=(self.image_features([state.reference.image_id])[0]
                       if state.reference is not None else None),
            liked_weights=self.config.liked_decay ** np.arange(len(state.liked))[::-1]
            if state.liked else None,
            choices=self._choice_terms(state.choices),
        )
        scorer = self.scorer or ContrastScorer(self.encoder, self.config.weights.temperature)
        reranker = SoftLogicReranker(scorer, self.config.weights)
        paths: list[str] = []
        if not isinstance(scorer, ContrastScorer):  # a cross-encoder needs the pixels
            rows = self.library.rows(ids.tolist())
            paths = [rows[int(i)]["path"] for i in ids]
        return reranker.scores_with_evidence(vectors, self.criteria(state), images, first_stage,
                                             paths, image_space=features)


    def _choice_terms(self, choices) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Each choice as (the picked image's features, the passed-over ones'), every image
        read once: the picks and pages of a conversation overlap."""
        if not choices:
            return ()
        ids = list(dict.fromkeys(i for c in choices for i in (c.picked, *c.over)))
        features = self.image_features(ids)
        row = {image_id: n for n, image_id in enumerate(ids)}
        return tuple((features[row[c.picked]], features[[row[i] for i in c.over]])
                     for c in choices)


def pool_size(scores: np.ndarray, margin: float) -> int:
    """How many of the best results (`scores` best first) diversify picks the page from: those
    within `margin` of the best; 0 when nothing is tied with the best. Only those: the pool was
    once filled up to k, and then a result far below the best could take a place on the page
    for looking different ("a shirt with red stripes" put a red shirt with black stripes,
    1.2 below the best, second on the test catalogue's page, once looks kept their colours).
    Seeds 0 / 2, 200 episodes, Hits@10 at turn 5: 0.92 / 0.92 filled up, 0.905 / 0.93 not."""
    tied = int(np.sum(scores >= scores[0] - margin)) if len(scores) else 0
    return tied if tied > 1 else 0


def diversify(order: np.ndarray, scores: np.ndarray, looks: np.ndarray, k: int,
              weight: float, margin: float) -> np.ndarray:
    """The first page re-picked by maximal marginal relevance among near-tied results.

    `order` is best first; `scores` follow it, and `looks` too for at least the first
    `pool_size` rows (only those are compared). Only results within `margin` of the best score
    compete, so a clearly better result is never displaced by a merely different one.
    """
    size = pool_size(scores, margin)
    if weight <= 0 or size == 0:
        return order
    looks = np.asarray(looks[:size], np.float32)
    half = 0.5 * np.einsum("ij,ij->i", looks, looks)
    # one product over the whole pool per pick, the picked masked out: copying the remaining
    # rows out (looks[pool]) at every pick cost more than the products (0.5 ms at 400)
    closest = likeness(looks, looks[0], half)  # each pooled result's likeness to the nearest chosen
    open_ = np.ones(size, bool)
    open_[0] = False
    chosen = [0]
    while open_.any() and len(chosen) < k:
        left = np.flatnonzero(open_)  # among these only, even where every gain is -inf
        pick = int(left[np.argmax(scores[left] - weight * closest[left])])
        chosen.append(pick)
        open_[pick] = False
        closest = np.maximum(closest, likeness(looks, looks[pick], half))
    rest = np.ones(len(order), bool)
    rest[chosen] = False
    return order[np.concatenate([np.array(chosen), np.flatnonzero(rest)])]


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else v.astype(np.float32)
