"""The memory keeps what a person said across turns the way they expect it to."""

import json
from dataclasses import dataclass

import pytest

from memory.cascade import (
    BadPolarity,
    Choice,
    Constraint,
    NoSuchConstraint,
    QueryState,
    Reference,
    apply_turn,
    record_shown,
    remove_constraint,
    summary,
    weights,
)
from retrievers.vocabularies import load_vocabulary

WORDS = load_vocabulary("demo")  # the slots these stories are told in


@dataclass(frozen=True)
class P:
    """Any object with .text and .polarity will do; memory never imports agent."""
    text: str
    polarity: int = 1


def say(state, *items, **kwargs):
    """One turn of propositions: "red" wanted, "-red" not wanted, "0red" revoked."""
    propositions = []
    for item in items:
        if item.startswith("-"):
            propositions.append(P(item[1:], -1))
        elif item.startswith("0"):
            propositions.append(P(item[1:], 0))
        else:
            propositions.append(P(item))
    return apply_turn(state, vocabulary=WORDS, propositions=propositions, **kwargs)


def labels(state):
    return [c.label for c in state.constraints]


def talk(*turns):
    state = QueryState()
    for items in turns:
        state = say(state, *items)
    return state


# --- 1. later positives replace earlier ones in their slot ----------------------------------------


def test_make_it_blue_replaces_red():
    assert labels(talk(["red"], ["blue"])) == ["blue"]


def test_long_sleeves_replace_short_sleeves():
    assert labels(talk(["short sleeves"], ["long-sleeved"])) == ["long sleeves"]


def test_skirt_replaces_dress_but_keeps_its_colour():
    assert labels(talk(["dress", "red"], ["skirt"])) == ["skirt", "red"]


def test_different_slots_accumulate():
    assert labels(talk(["red"], ["striped"])) == ["red", "striped"]


def test_two_colours_said_together_are_both_kept():
    assert labels(talk(["red", "white"])) == ["red", "white"]
    assert labels(talk(["red", "white"], ["blue"])) == ["blue"]


def test_phrases_outside_the_vocabulary_accumulate_without_duplicates():
    state = talk(["leather strap"], ["gold buckle"], ["leather strap"])
    assert labels(state) == ["leather strap", "gold buckle"]
    assert state.constraints[0].turn == 3  # said again: it counts as fresh


def test_synonyms_are_one_constraint():
    assert labels(talk(["stripes"], ["stripy"])) == ["striped"]
    assert labels(talk(["grey"], ["gray"])) == ["gray"]


def test_the_user_words_are_kept_beside_the_canonical_text():
    [constraint] = talk(["stripy"]).constraints
    assert (constraint.text, constraint.said, constraint.slot) == ("striped", "stripy", "pattern")


# --- 2. negatives persist until revoked -----------------------------------------------------------


def test_not_checked_stays_for_later_turns():
    assert labels(talk(["-checked"], ["dress"], ["red"], ["long"])) == [
        "not checked", "dress", "red", "long"]


def test_red_after_not_red_wins():
    assert labels(talk(["-red"], ["red"])) == ["red"]


def test_not_red_after_red_wins():
    assert labels(talk(["red"], ["-red"])) == ["not red"]


def test_a_value_does_not_lift_negatives_on_other_values_of_its_slot():
    assert labels(talk(["-checked"], ["striped"])) == ["not checked", "striped"]
    assert labels(talk(["-red"], ["blue"])) == ["not red", "blue"]


# --- 3. revoking ----------------------------------------------------------------------------------


def test_stripes_are_fine_removes_not_striped():
    assert labels(talk(["-striped", "dress"], ["0stripes"])) == ["dress"]


def test_stripes_are_fine_also_removes_wanted_stripes():
    assert labels(talk(["striped", "dress"], ["0striped"])) == ["dress"]


def test_revoking_stripes_covers_coloured_stripes():
    assert labels(talk(["-white striped", "dress"], ["0striped"])) == ["dress"]


def test_any_color_forgets_the_whole_colour_slot():
    state = talk(["red", "dress"], ["-blue"], ["0color"])
    assert labels(state) == ["dress"]
    assert labels(talk(["red", "striped"], ["0colour"])) == ["striped"]


def test_revoking_what_was_never_said_changes_nothing():
    assert labels(talk(["red"], ["0checked"])) == ["red"]


# --- 4. liked and disliked images -----------------------------------------------------------------


def test_liked_and_disliked_images_accumulate():
    state = apply_turn(QueryState(), vocabulary=WORDS, propositions=[], liked=[11], disliked=[12])
    state = apply_turn(state, vocabulary=WORDS, propositions=[], liked=[13, 11], disliked=[14])
    assert (state.liked, state.disliked) == ((11, 13), (12, 14))


def test_liking_a_disliked_image_takes_the_dislike_back_and_vice_versa():
    state = apply_turn(QueryState(), vocabulary=WORDS, propositions=[], disliked=[7])
    state = apply_turn(state, vocabulary=WORDS, propositions=[], liked=[7])
    assert (state.liked, state.disliked) == ((7,), ())
    state = apply_turn(state, vocabulary=WORDS, propositions=[], disliked=[7])
    assert (state.liked, state.disliked) == ((), (7,))


# --- 5. reference image + modification ------------------------------------------------------------


def test_like_4_but_green_sets_the_reference_and_remembers_green():
    state = record_shown(talk(["dress", "red"]), [101, 102, 103, 104])
    state = say(state, "green", reference=state.shown[3], reference_text="in green")
    assert state.reference == Reference(image_id=104, text="in green", turn=2)
    assert labels(state) == ["dress", "green"]


def test_a_reference_persists_until_a_new_one():
    state = say(QueryState(), "green", reference=104, reference_text="green")
    state = say(state, "long")
    assert state.reference.image_id == 104
    state = say(state, "striped", reference=200, reference_text="striped")
    assert state.reference == Reference(image_id=200, text="striped", turn=3)


def test_building_on_a_disliked_image_takes_the_dislike_back():
    state = apply_turn(QueryState(), vocabulary=WORDS, propositions=[], disliked=[5])
    state = say(state, "blue", reference=5, reference_text="blue")
    assert state.disliked == ()


# --- 6. reset -------------------------------------------------------------------------------------


def test_start_over_forgets_the_search_but_not_the_rejections():
    state = apply_turn(talk(["red", "-checked"], ["dress"]), vocabulary=WORDS, propositions=[P("x")],
                       liked=[1], disliked=[2], reference=3, reference_text="x")
    state = say(state, "shoes", reset=True)
    assert labels(state) == ["shoes"]
    assert (state.liked, state.disliked, state.reference, state.turn) == ((), (2,), None, 4)


# --- 7. fading ------------------------------------------------------------------------------------


def test_older_wishes_fade_but_never_below_the_floor_and_negatives_never_fade():
    state = talk(["dress", "-checked"], ["red"], ["long"])
    w = weights(state, decay=0.5, floor=0.3)
    assert w == {"dress": 0.3, "checked": 1.0, "red": 0.5, "long": 1.0}
    assert weights(state)["dress"] == pytest.approx(0.85 ** 2)
    assert Constraint(text="x", said="x", polarity=1, slot=None, turn=1).weight(30) == 0.5


# --- the memory panel -----------------------------------------------------------------------------


def test_removing_a_constraint_from_the_panel_by_text_or_position():
    state = talk(["dress", "red", "-checked"])
    assert labels(remove_constraint(state, "red", WORDS)) == ["dress", "not checked"]
    assert labels(remove_constraint(state, "not checked", WORDS)) == ["dress", "red"]
    assert labels(remove_constraint(state, "checks", WORDS)) == ["dress", "red"]
    assert labels(remove_constraint(state, 0, WORDS)) == ["red", "not checked"]


def test_removing_a_missing_constraint_names_what_exists():
    state = talk(["dress", "-checked"])
    with pytest.raises(NoSuchConstraint) as caught:
        remove_constraint(state, "blue", WORDS)
    assert str(caught.value) == (
        "No constraint 'blue' in memory; the constraints are: dress, not checked.")
    with pytest.raises(NoSuchConstraint, match="are: dress, not checked"):
        remove_constraint(state, 5, WORDS)
    with pytest.raises(NoSuchConstraint, match="are: none"):
        remove_constraint(QueryState(), "red", WORDS)


def test_a_proposition_with_a_strange_polarity_is_refused():
    with pytest.raises(BadPolarity, match=r"'red' has polarity 2: use \+1"):
        apply_turn(QueryState(), vocabulary=WORDS, propositions=[P("red", 2)])


# --- summary and persistence ----------------------------------------------------------------------


def test_summary_reads_as_one_line_of_what_is_in_force():
    state = talk(["striped"], ["blue", "dress"], ["-checked"])
    state = apply_turn(state, vocabulary=WORDS, propositions=[P("green")], reference=123, reference_text="green",
                       disliked=[5, 6], liked=[7])
    assert summary(state, WORDS) == (
        "dress · green · striped · not checked · like img 123 + green · 1 liked · 2 disliked")


def test_an_empty_memory_says_so():
    assert summary(QueryState(), WORDS) == "no constraints yet"


def test_state_round_trips_through_json():
    state = record_shown(
        say(talk(["dress", "-checked"]), "green", reference=4, reference_text="green",
            liked=[1], disliked=[2]),
        [9, 8, 7],
    )
    again = QueryState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert QueryState.from_dict({}) == QueryState()


def test_record_shown_keeps_rank_order():
    assert record_shown(QueryState(), [30, 10, 20]).shown == (30, 10, 20)


# --- turning pages down says nothing newer ------------------------------------------------------


def test_pages_turned_down_do_not_fade_what_was_said():
    state = record_shown(say(QueryState(), "red", "dress"), range(10))
    for page in range(1, 6):
        state = record_shown(say(state, passed=state.shown, ages=False),
                             range(10 * page, 10 * page + 10))
    assert weights(state) == {"red": 1.0, "dress": 1.0}
    assert len(state.passed) == 50
    # a turn that does say something still ages the older words
    assert weights(say(state, "long"))["red"] < 1.0


# --- a change said without a noun goes to the main subject -------------------------------------

PHOTOS = load_vocabulary("photos")


def test_make_it_green_changes_the_main_subject_of_a_two_object_request():
    state = apply_turn(QueryState(), vocabulary=PHOTOS,
                       propositions=[P("girl"), P("yellow coat"), P("gray car")])
    state = apply_turn(state, vocabulary=PHOTOS, propositions=[P("green")])
    assert labels(state) == ["girl", "green coat", "gray car"]


def test_a_bare_colour_is_still_replaced_where_there_is_one():
    assert labels(talk(["dress", "yellow", "black belt"], ["green"])) == [
        "dress", "green", "black belt"]


def test_a_colour_added_to_a_coloured_pattern_is_the_garments_own():
    # "white stripes" then "make it orange": an orange garment with white stripes
    assert labels(talk(["dress", "white striped"], ["orange"])) == [
        "dress", "white striped", "orange"]


# --- a like out of a page is a choice over the rest of it -----------------------------------------


def test_liking_3_of_the_page_records_it_was_picked_over_the_others():
    state = record_shown(talk(["dress"]), [101, 102, 103, 104])
    state = apply_turn(state, vocabulary=WORDS, propositions=[], liked=[103])
    assert state.choices == (Choice(picked=103, over=(101, 102, 104)),)


def test_two_picked_together_are_each_picked_over_the_rest_not_over_each_other():
    state = record_shown(QueryState(), [1, 2, 3, 4])
    state = apply_turn(state, vocabulary=WORDS, propositions=[], liked=[2, 4])
    assert state.choices == (Choice(picked=2, over=(1, 3)), Choice(picked=4, over=(1, 3)))


def test_a_like_of_an_image_not_on_the_page_is_no_choice():
    state = record_shown(QueryState(), [1, 2, 3])
    state = apply_turn(state, vocabulary=WORDS, propositions=[], liked=[99])
    assert (state.liked, state.choices) == ((99,), ())


def test_rejecting_the_picked_image_later_keeps_the_choice_and_a_reset_forgets_it():
    state = record_shown(QueryState(), [1, 2, 3])
    state = apply_turn(state, vocabulary=WORDS, propositions=[], liked=[3])
    state = record_shown(state, [3, 5, 6])  # it rose to the top: "close, but not the one"
    state = apply_turn(state, vocabulary=WORDS, propositions=[], disliked=[3])
    assert (state.liked, state.disliked) == ((), (3,))
    assert state.choices == (Choice(picked=3, over=(1, 2)),)
    assert say(state, "skirt", reset=True).choices == ()


def test_choices_round_trip_through_json():
    state = apply_turn(record_shown(QueryState(), [7, 8, 9]), vocabulary=WORDS,
                       propositions=[], liked=[8])
    assert QueryState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
