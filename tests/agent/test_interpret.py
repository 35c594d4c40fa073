"""A person points at results by rank; everything else they say is the request."""

import pytest

from agent.interpret import Turn, UnknownReference, interpret


def test_not_2_more_like_4_but_striped_dislikes_2_and_builds_on_4():
    assert interpret("not 2, more like 4 but striped", shown=10) == Turn(
        text="striped", disliked=(2,), reference=4)


@pytest.mark.parametrize("text", ["#3", "3", "the third one", "more like 3", "I like 3",
                                  "3rd one", "image 3", "3 looks good", "3 is close", "yes to 3",
                                  "3 please", "the 3rd"])
def test_pointing_at_a_result_likes_it(text):
    assert interpret(text, shown=10) == Turn(text="", liked=(3,))


@pytest.mark.parametrize("text", ["not 2", "not #2", "no to 2", "not the second one", "2 is wrong",
                                  "2 isn't it", "less like 2", "no 2", "I don't like 2",
                                  "2 is not it"])
def test_pointing_away_from_a_result_dislikes_it(text):
    assert interpret(text, shown=10) == Turn(text="", disliked=(2,))


def test_lists_of_ranks_share_their_cue():
    assert interpret("I like 2 and 5", shown=10).liked == (2, 5)
    assert interpret("no to 1 and 5", shown=10).disliked == (1, 5)
    assert interpret("not 1, 3 or 5", shown=10).disliked == (1, 3, 5)
    assert interpret("not 1,5 please", shown=10).disliked == (1, 5)
    assert interpret("2 and 3 are wrong", shown=10).disliked == (2, 3)
    assert interpret("the first and third ones", shown=10).liked == (1, 3)


def test_a_turn_of_bare_numbers_is_a_pick():
    assert interpret("2, 5", shown=10).liked == (2, 5)
    assert interpret("7", shown=10) == Turn(text="", liked=(7,))


@pytest.mark.parametrize(("text", "rank", "rest"), [
    ("like 4 but in green", 4, "in green"),
    ("more like 4 but striped", 4, "striped"),
    ("4 but blue", 4, "blue"),
    ("like #4 with white stripes", 4, "with white stripes"),
    ("Like the second one but in Red", 2, "in Red"),
    ("I like 6 but in blue", 6, "in blue"),
])
def test_like_n_but_text_makes_n_the_reference_image(text, rank, rest):
    turn = interpret(text, shown=10)
    assert (turn.reference, turn.text) == (rank, rest)
    assert turn.liked == ()  # the reference is composed with the text, not liked on its own


def test_references_and_a_request_in_one_turn():
    assert interpret("red dress, not 2", shown=10) == Turn(text="red dress", disliked=(2,))
    assert interpret("#3 and long sleeves", shown=10) == Turn(text="long sleeves", liked=(3,))


@pytest.mark.parametrize("text", ["a 2-piece suit", "size 10 shoes", "not 3 buttons",
                                  "I'd like 2 pockets", "a dress with 3 buttons", "no red"])
def test_numbers_that_are_not_references_survive(text):
    assert interpret(text, shown=10) == Turn(text=text)


def test_the_last_one_is_the_last_rank_shown():
    assert interpret("not the last one", shown=8).disliked == (8,)


def test_start_over_resets_and_keeps_the_new_request():
    assert interpret("start over", shown=10) == Turn(text="", reset=True)
    assert interpret("new search: red shoes", shown=10) == Turn(text="red shoes", reset=True)
    assert interpret("ok, start over with a blue skirt", shown=10) == Turn(
        text="a blue skirt", reset=True)
    assert interpret("Let's start again", shown=0).reset


def test_a_rank_beyond_the_page_is_an_error_that_says_how_many_are_shown():
    with pytest.raises(UnknownReference) as caught:
        interpret("#40", shown=10)
    assert str(caught.value) == "There is no #40: only 10 results are shown."
    assert (caught.value.rank, caught.value.shown) == (40, 10)
    with pytest.raises(UnknownReference, match="only 1 result is shown"):
        interpret("not 2", shown=1)
    with pytest.raises(UnknownReference, match="#0"):
        interpret("#0", shown=10)


@pytest.mark.parametrize("turn, rank", [("#-1", -1), ("not -2", -2), ("no. -3", -3),
                                        ("like -4 but red", -4), ("the -1st one", -1)])
def test_a_negative_rank_is_a_message_not_the_rank_without_its_sign(turn, rank):
    # "#-1" once liked #1 and left "#" behind as a constraint
    with pytest.raises(UnknownReference) as caught:
        interpret(turn, shown=10)
    assert str(caught.value) == f"There is no #{rank}: the page shows #1–#10."
    with pytest.raises(UnknownReference, match=r"the page shows #1 only"):
        interpret(turn, shown=1)


def test_a_minus_sign_in_a_request_is_still_text():
    assert interpret("a -5 degrees thermometer", shown=10) == Turn(
        text="a -5 degrees thermometer")
    assert interpret("a 3-1 scoreboard", shown=10) == Turn(text="a 3-1 scoreboard")


def test_any_reference_before_results_exist_says_nothing_is_shown_yet():
    with pytest.raises(UnknownReference, match="No results are shown yet"):
        interpret("the first one", shown=0)
    with pytest.raises(UnknownReference, match="No results are shown yet"):
        interpret("like 4 but blue", shown=0)
    # a request with numbers in it is still fine
    assert interpret("size 10 shoes", shown=0) == Turn(text="size 10 shoes")


def test_plain_request_passes_through_untouched():
    assert interpret("A long navy dress, not checked", shown=10) == Turn(
        text="A long navy dress, not checked")
