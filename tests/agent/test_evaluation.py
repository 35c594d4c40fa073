"""Scripted multi-turn evaluation: the simulated shopper, scenario files, and `rummage eval`.

The simulator is checked against the agent's own interpreter and decomposer: whatever it says
must be understood as intended and be true of the target. The end-to-end tests run the real API
on a small demo library (600 garments); when the trained demo checkpoint is not there yet, the
demo architecture with seeded random weights stands in, which exercises the same code paths.
"""

from __future__ import annotations

import json
import random

import pytest

from agent.decompose import decompose
from agent.evaluation.runner import (
    EvalConfig,
    EvaluationError,
    evaluate,
    pick_targets,
    run_episode,
)
from agent.evaluation.scenarios import parse_scenarios, target_resolver
from agent.interpret import interpret
from retrievers.demo.schema import vocabulary_value
from retrievers.demo.shopper import UserSimulator
from retrievers.demo.world import sample_items
from retrievers.vocabularies import load_vocabulary
from tests.conftest import DEMO_TEST_ITEMS

DEMO_WORDS = load_vocabulary("demo")  # the shopper speaks the demo world's words
# Kinds whose words the interpreter and decomposer do not read: the dialogue-act reader
# (agent.understand) does, and the tests at the end check it once it exists.
DIALOGUE_ACTS = ("page", "undo", "compare", "found")
ITEMS = sample_items(2000)


def truths(meta: dict) -> set[str]:
    """The decomposer's canonical phrases that are true of an item."""
    out = {meta["category"], meta["color"]}
    if meta["pattern"] == "solid":
        out.add("solid")
    else:
        out |= {meta["pattern"], f"{meta['pattern_color']} {meta['pattern']}"}
    if meta["sleeves"]:
        out.add(vocabulary_value("sleeves", meta["sleeves"]))
    if meta["length"]:
        out.add(vocabulary_value("length", meta["length"]))
    return out


def understood(text: str, shown: int = 10):
    """What the agent makes of a turn: the rank references and the propositions."""
    turn = interpret(text, shown)
    return turn, decompose(turn.text, DEMO_WORDS) if turn.text else []


def dialogue(seed, target, pages: int = 8, page_seed: int = 0, show_target: float = 0.15,
             policy: str = "default"):
    """Run a simulator against random pages (the target slipped in now and then)."""
    rng = random.Random(page_seed)
    user = UserSimulator(target.index, target.meta, seed=seed, policy=policy)
    said = [(user.opening(), [])]
    for _ in range(pages):
        shown = [(i.index, i.meta) for i in rng.sample(ITEMS, 10) if i.index != target.index]
        if rng.random() < show_target:
            shown.insert(rng.randrange(len(shown)), (target.index, target.meta))
        said.append((user.respond(shown), shown))
    return said


# -- the simulated shopper ------------------------------------------------------------------


def test_the_same_seed_and_the_same_pages_give_the_same_dialogue():
    first = [u.text for u, _ in dialogue(seed=11, target=ITEMS[5])]
    again = [u.text for u, _ in dialogue(seed=11, target=ITEMS[5])]
    other = [u.text for u, _ in dialogue(seed=12, target=ITEMS[5])]
    assert first == again
    assert first != other


def test_the_opening_names_one_or_two_true_attributes():
    for index, item in enumerate(ITEMS[:200]):
        opening = UserSimulator(item.index, item.meta, seed=index).opening()
        _, propositions = understood(opening.text, shown=0)
        assert 1 <= len(propositions) <= 2, opening.text
        assert all(p.polarity == 1 and p.text in truths(item.meta) for p in propositions), \
            (opening.text, propositions, item.meta)


def test_everything_the_user_says_is_true_of_the_target():
    kinds = set()
    for index, item in enumerate(ITEMS[:150]):
        for utterance, shown in dialogue(seed=index, target=item, page_seed=index):
            kinds.add(utterance.kind)
            if utterance.kind in DIALOGUE_ACTS:
                continue  # read by agent.understand: see the tests of the dialogue acts below
            turn, propositions = understood(utterance.text)
            for p in propositions:
                holds = p.text in truths(item.meta)
                assert holds if p.polarity > 0 else not holds, (utterance, p, item.meta)
            by_rank = dict(enumerate((i for i, _ in shown), 1))
            assert item.index not in [by_rank[r] for r in turn.disliked], utterance
    assert kinds >= {"describe", "missing", "correct", "reject", "point"}


def test_a_correction_names_the_target_value_and_rejects_the_one_shown():
    navy_dress = next(i for i in ITEMS if i.meta["category"] == "dress"
                      and i.meta["color"] == "navy")
    blue_dress = {**navy_dress.meta, "color": "blue"}
    corrections = []
    for seed in range(60):
        user = UserSimulator(navy_dress.index, navy_dress.meta, seed=seed)
        user.said.add("color")  # the user already asked for navy, yet blue comes first
        utterance = user.respond([(-1, blue_dress)])
        if utterance.kind == "correct":
            corrections.append(utterance.text)
    assert len(corrections) >= 10
    for text in corrections:
        propositions = {(p.text, p.polarity) for p in understood(text)[1]}
        assert ("navy", 1) in propositions, text
        assert propositions <= {("navy", 1), ("blue", -1)}, text
    assert len(set(corrections)) >= 5  # many phrasings, not one template


def test_when_the_target_is_shown_the_user_points_at_it():
    target = ITEMS[7]
    others = [(i.index, i.meta) for i in ITEMS[100:103]]
    for seed in range(30):
        user = UserSimulator(target.index, target.meta, seed=seed)
        user.opening()
        utterance = user.respond([*others, (target.index, target.meta)])
        turn, _ = understood(utterance.text)
        if utterance.kind == "point":
            assert 4 in turn.liked or turn.reference == 4, utterance.text
        else:  # or rejects wrong results above it, never the target itself
            assert utterance.kind == "reject" and turn.disliked and 4 not in turn.disliked


def test_pointers_point_at_the_closest_result_and_say_how_the_target_differs():
    target = next(i for i in ITEMS if i.meta["category"] == "dress"
                  and i.meta["sleeves"] == "long")
    far = {"category": "shorts", "color": "black", "pattern": "checked",
           "pattern_color": "white", "sleeves": None, "length": None}
    close = {**target.meta, "sleeves": "short"}
    seen = 0
    for seed in range(80):
        user = UserSimulator(target.index, target.meta, seed=seed)
        utterance = user.respond([(-1, far), (-2, far), (-3, close)])
        if utterance.kind != "point":
            continue
        seen += 1
        turn, propositions = understood(utterance.text)
        assert turn.reference == 3 or 3 in turn.liked, utterance.text
        assert [(p.text, p.polarity) for p in propositions] == [("long sleeves", 1)], \
            utterance.text
    assert seen >= 5


def test_once_everything_is_said_only_image_feedback_is_left():
    for index, item in enumerate(ITEMS[:60]):
        user = UserSimulator(item.index, item.meta, seed=index)
        user.said.update(user.keys)
        shown = [(i.index, i.meta) for i in ITEMS[1000 + 10 * index: 1010 + 10 * index]]
        for _ in range(4):
            utterance = user.respond(shown)
            # pointing at results, comparing with one, or turning the page (the same page
            # again never looks worse, so there is nothing to undo)
            assert utterance.kind in ("reject", "point", "compare", "page"), utterance


def test_the_page_down_user_opens_with_every_attribute_of_the_target():
    for index, item in enumerate(ITEMS[:200]):
        opening = UserSimulator(item.index, item.meta, seed=index, policy="page-down").opening()
        _, propositions = understood(opening.text, shown=0)
        said = {p.text for p in propositions}
        assert all(p.polarity == 1 for p in propositions) and said <= truths(item.meta), \
            (opening.text, propositions)
        meta = item.meta
        pattern = "solid" if meta["pattern"] == "solid" else \
            f"{meta['pattern_color']} {meta['pattern']}"
        wanted = {meta["category"], meta["color"], pattern}
        for key in ("sleeves", "length"):
            if meta[key]:
                wanted.add(vocabulary_value(key, meta[key]))
        assert wanted <= said, (opening.text, said, meta)


def test_the_phrasings_are_many():
    texts: dict[str, set[str]] = {}
    for index, item in enumerate(ITEMS[:100]):
        for utterance, _ in dialogue(seed=index, target=item, page_seed=index):
            texts.setdefault(utterance.kind, set()).add(utterance.text)
    assert all(len(texts[kind]) >= 30 for kind in ("describe", "missing", "reject", "point"))


# -- the dialogue acts, as the agent reads them ----------------------------------------------
# The simulator's moves were written by another hand than agent.understand's rules; these
# tests hold the reader to them.


def said_by_both_users(kinds, items: int = 120):
    """(utterance, page) pairs of the given kinds, from both users over random pages."""
    out = []
    for policy in ("default", "page-down"):
        for index, item in enumerate(ITEMS[:items]):
            for utterance, shown in dialogue(seed=index, target=item, page_seed=index,
                                             show_target=0.25, policy=policy):
                if utterance.kind in kinds:
                    out.append((utterance, shown))
    assert out, kinds
    return out


def test_the_agent_reads_a_page_rejection_as_one():
    from agent.understand import understand

    for utterance, shown in said_by_both_users({"page"}):
        assert understand(utterance.text, len(shown)).act == "page", utterance.text


def test_the_agent_reads_an_undo_as_one():
    from agent.understand import understand

    for utterance, shown in said_by_both_users({"undo"}):
        assert understand(utterance.text, len(shown)).act == "undo", utterance.text


def test_the_agent_reads_found_it_with_its_rank():
    from agent.understand import understand

    for utterance, shown in said_by_both_users({"found"}):
        act = understand(utterance.text, len(shown))
        assert act.act == "found" and act.found == utterance.rank, utterance.text


def test_the_agent_reads_a_comparative_and_what_it_is_relative_to():
    from agent.understand import understand

    for utterance, shown in said_by_both_users({"compare"}):
        from agent.decompose import decompose
        from retrievers.vocabularies import load_vocabulary

        act = understand(utterance.text, len(shown))
        assert act.act == "refine", utterance.text
        relative = {p.text for p in decompose(act.text, load_vocabulary("demo")) if p.relative}
        assert relative == set(utterance.relative), (utterance, relative)
        # a bare comparative is about the top result: named or left implicit
        assert act.reference in ((utterance.rank, None) if utterance.rank == 1
                                 else (utterance.rank,)), (utterance, act.reference)


def test_the_agent_still_reads_the_other_moves_as_refinements():
    from agent.understand import understand

    kinds = {"describe", "missing", "correct", "reject", "point", "restate"}
    for utterance, shown in said_by_both_users(kinds, items=60):
        act = understand(utterance.text, len(shown))
        assert act.act == "refine", (utterance, act)
        turn = interpret(utterance.text, len(shown))  # the ranks it names, as read today
        pointed = {*act.liked, act.reference} - {None}
        assert set(act.disliked) == set(turn.disliked), (utterance, act)
        assert pointed == {*turn.liked, turn.reference} - {None}, (utterance, act)


# -- targets and scenario files ----------------------------------------------------------


def test_targets_come_from_the_test_split_and_repeat_the_same_for_a_seed():
    metas = {item.index: item.meta for item in ITEMS}
    targets = pick_targets(metas, 50, seed=3)
    assert all(metas[t]["split"] == "test" for t in targets)
    assert len(set(targets)) == 50
    assert targets == pick_targets(metas, 50, seed=3)
    assert targets != pick_targets(metas, 50, seed=4)


def test_a_library_without_demo_attributes_has_no_targets():
    with pytest.raises(EvaluationError, match="no test-split images"):
        pick_targets({1: {}, 2: {"split": "train"}}, 5)


def test_bad_scenario_lines_are_reported_by_number_and_skipped(tmp_path):
    root = tmp_path / "catalogue"
    (root / "images").mkdir(parents=True)
    (root / "images" / "00003.png").write_bytes(b"")
    paths = {7: str(root / "images" / "00003.png"), 8: str(root / "images" / "00004.png")}
    resolve = target_resolver([7, 8], paths, root)
    lines = [
        '{"id": "by-path", "target": "images/00003.png", "turns": ["a red dress"]}',
        '{"id": "by-id", "target": 8, "turns": ["navy", "not 1"]}',
        '{"id": "broken", "target": 8, "turns": ["navy"',
        '',
        '{"id": "no-turns", "target": 8}',
        '{"id": "ghost", "target": "images/99999.png", "turns": ["a skirt"]}',
        '{"id": "empty", "target": "8", "turns": []}',
        '["a list"]',
        '{"target": "8", "turns": ["green"]}',
    ]
    scenarios, bad = parse_scenarios(lines, resolve)
    assert [(s.id, s.target, s.line) for s in scenarios] == [
        ("by-path", 7, 1), ("by-id", 8, 2), ("line 9", 8, 9)]
    assert [str(b) for b in bad] == [
        "line 3: not valid JSON (Expecting ',' delimiter)",
        "line 5: missing key 'turns'",
        "line 6: unknown target 'images/99999.png': no such image id or path in the library",
        "line 7: turns must be a non-empty list of non-empty strings",
        "line 8: expected a JSON object with target and turns",
    ]


def test_a_target_no_file_system_can_look_up_costs_its_line_not_the_file(tmp_path):
    root = tmp_path / "catalogue"
    (root / "images").mkdir(parents=True)
    resolve = target_resolver([7], {7: str(root / "images" / "00007.png")}, root)
    lines = [
        json.dumps({"id": "long", "target": "x" * 5000, "turns": ["a red dress"]}),
        json.dumps({"id": "nul", "target": "images/a\x00b.png", "turns": ["navy"]}),
        json.dumps({"id": "fine", "target": 7, "turns": ["a skirt"]}),
    ]
    scenarios, bad = parse_scenarios(lines, resolve)
    assert [s.id for s in scenarios] == ["fine"]
    assert [b.line for b in bad] == [1, 2]
    assert "(5002 characters)" in bad[0].reason and len(bad[0].reason) < 200


def test_the_example_file_targets_held_out_garments():
    from importlib.resources import files

    text = files("agent.evaluation").joinpath("example_scenarios.jsonl").read_text()
    catalogue = {f"images/{i.index:05d}.png": i.meta for i in sample_items(20000)}
    scenarios, bad = parse_scenarios(text.splitlines(),
                                     lambda t: int(t[7:12]) if t in catalogue else None)
    assert not bad and len(scenarios) >= 8
    for scenario in scenarios:
        assert catalogue[f"images/{scenario.target:05d}.png"]["split"] == "test"
        assert scenario.target < DEMO_TEST_ITEMS  # so the small test library holds it too


# -- end to end, through the real API -----------------------------------------------------


@pytest.fixture
def in_demo_home(demo_home, monkeypatch):
    """RUMMAGE_HOME pointed at the shared small demo library, as a user's shell would be."""
    monkeypatch.setenv("RUMMAGE_HOME", str(demo_home))
    return demo_home


def rummage(*argv: str) -> int:
    """`rummage ARGS`, through the console script's own entry point."""
    from tui.cli import main

    return main(list(argv))


def test_every_agent_gets_the_same_episodes(demo_home):
    from agent.api import Agent

    agent = Agent.open("demo", home=demo_home, persist=False)
    try:
        runs = evaluate(agent, ["full", "single"], EvalConfig(episodes=3, turns=3, depth=50))
        metas = {i: agent.image(i).meta for run in runs for i in (e.target for e in run.episodes)}
    finally:
        agent.close()
    full, single = runs
    assert [e.target for e in full.episodes] == [e.target for e in single.episodes]
    assert all(metas[e.target]["split"] == "test" for e in full.episodes)
    assert [e.dialogue[0] for e in full.episodes] == [e.dialogue[0] for e in single.episodes]
    for run in runs:
        assert run.ranks().shape == (3, 3)
        assert ((run.ranks() >= 1) & (run.ranks() <= 51)).all()
        assert all(not e.messages for e in run.episodes)  # every reference was understood


def test_rummage_eval_prints_a_table_and_writes_json_and_a_plot(in_demo_home, tmp_path,
                                                                   capsys):
    out_json, out_png = tmp_path / "eval.json", tmp_path / "eval.png"
    code = rummage("eval", "--library", "demo", "--episodes", "2", "--turns", "2",
                   "--agent", "full", "no-rerank", "--json", str(out_json),
                   "--plot", str(out_png))
    printed = capsys.readouterr().out
    assert code == 0
    assert "Hits@10" in printed and "no-rerank" in printed and "found@1" in printed
    report = json.loads(out_json.read_text())
    assert [run["agent"] for run in report["runs"]] == ["full", "no-rerank"]
    assert report["runs"][1]["config"] == {"rerank": False}
    turn = report["runs"][0]["metrics"][1]
    assert turn["turn"] == 2 and set(turn["hits"]) == {"1", "5", "10"}
    episode = report["runs"][0]["episodes"][0]
    assert len(episode["dialogue"]) == 2 and episode["path"].endswith(".png")
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _Shows:
    """A stand-in agent variant that shows the same page every turn and counts what it hears."""

    def __init__(self, ids):
        self.ids, self.heard = ids, []

    def new_session(self):
        from types import SimpleNamespace

        def say(text):
            self.heard.append(text)
            return SimpleNamespace(results=[SimpleNamespace(id=i) for i in self.ids],
                                   message=None)

        return SimpleNamespace(id="s", say=say)

    def forget(self, session_id):
        pass


def test_an_episode_ends_when_the_user_has_found_the_target():
    target = ITEMS[3]
    metas = {i.index: i.meta for i in ITEMS[:40]}
    variant = _Shows([target.index, *(i.index for i in ITEMS[10:19])])  # the target on top
    episode = run_episode(variant, 0, target.index, metas, EvalConfig(turns=5, depth=10))
    assert episode.kinds[-1] == "found" and episode.found_at == 2
    assert episode.ranks == [1, 1, 1, 1, 1]  # the page stays as it was when the user stopped
    assert len(variant.heard) == 1 and len(episode.dialogue) == 2  # "that's it" is not sent


def test_the_page_down_user_turns_pages_until_the_target_is_on_one():
    target = ITEMS[3]
    metas = {i.index: i.meta for i in ITEMS[:40]}
    others = [i.index for i in ITEMS[10:30] if i.index != target.index]
    variant = _Shows(others[:10])  # never shows the target
    config = EvalConfig(turns=4, depth=10, user="page-down")
    episode = run_episode(variant, 0, target.index, metas, config)
    assert episode.kinds == ["describe", "page", "page", "page"]
    assert episode.ranks == [None] * 4 and episode.found_at is None
    variant = _Shows([*others[:3], target.index, *others[3:9]])
    episode = run_episode(variant, 0, target.index, metas, config)
    assert episode.kinds == ["describe", "found"] and episode.dialogue[1]
    assert episode.ranks == [4] * 4 and episode.found_at == 2


def test_an_unknown_simulated_user_is_refused():
    with pytest.raises(EvaluationError, match="default, page-down"):
        evaluate(None, ["full"], EvalConfig(user="impatient"))


def test_rummage_eval_runs_the_page_down_user_and_reports_top_10_by_turn_8(in_demo_home,
                                                                          tmp_path, capsys):
    out_json = tmp_path / "eval.json"
    code = rummage("eval", "--library", "demo", "--episodes", "2", "--turns", "8",
                   "--user", "page-down", "--depth", "20", "--json", str(out_json))
    printed = capsys.readouterr().out
    assert code == 0
    assert "page-down user" in printed and "top10 by t8" in printed and "top10 ≤ t" in printed
    report = json.loads(out_json.read_text())
    assert report["config"]["user"] == "page-down"
    run = report["runs"][0]
    assert set(run["top_10_by_turn_8"]) == {"value", "low", "high"}
    assert run["top_10_by_turn_8"] == run["metrics"][7]["top_10_within"]
    for episode in run["episodes"]:
        assert episode["kinds"][0] == "describe"
        assert set(episode["kinds"][1:]) <= {"page", "found"}


def test_rummage_eval_rejects_zero_episodes_in_one_line(in_demo_home, capsys):
    assert rummage("eval", "--episodes", "0") == 2
    assert capsys.readouterr().err.strip() == \
        "rummage: --episodes and --turns must be at least 1 (got 0 and 10)"


def test_rummage_scenarios_reports_ranks_and_skips_bad_lines(in_demo_home, tmp_path, capsys):
    from importlib.resources import files

    shipped = files("agent.evaluation").joinpath("example_scenarios.jsonl").read_text()
    example = "".join(shipped.splitlines(keepends=True)[:3])  # three dialogues keep it quick
    file = tmp_path / "mine.jsonl"
    file.write_text(example + '{"id": "oops", "target": "images/99999.png", "turns": ["x"]}\n'
                    "not json\n")
    out_json = tmp_path / "scenarios.json"
    code = rummage("scenarios", str(file), "--library", "demo",
                   "--json", str(out_json))
    captured = capsys.readouterr()
    assert code == 0
    lines = len(example.splitlines())
    assert f"line {lines + 1}: unknown target 'images/99999.png'" in captured.err
    assert f"line {lines + 2}: not valid JSON" in captured.err
    assert "pink-striped-dress" in captured.out and "Hits@10" in captured.out
    report = json.loads(out_json.read_text())
    scenarios = report["runs"][0]["scenarios"]
    assert len(scenarios) == lines and [s["line"] for s in report["skipped"]] == [lines + 1,
                                                                                   lines + 2]
    first = scenarios[0]
    assert first["path"].endswith("images/00324.png") and len(first["ranks"]) == 4
