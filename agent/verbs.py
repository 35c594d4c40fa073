"""English verbs of what things in a picture do, as data: "a surfer rides a wave", "a dog
hold(s) a flower", "place books under the couch", "a plate filled with hot dogs".

Captions and edit requests name things and say what they do; only the things are constraints
(the labelled development set drops the verbs: "a man riding a wave" is man and wave). The
decomposer cannot tag parts of speech without a model, so it reads a verb by two facts: the
word is a form of a verb listed here, and it stands where English puts a verb (see
`decompose._drop_verbs`). The list holds the verbs of describing a scene and of editing one;
verbs that are far more often nouns in a picture's description ("light", "watch", "wave",
"park", "ski", "sign", "stand") are left out on purpose: a missed verb stays visible as free
text the person can remove, while a noun read as a verb would be lost without a trace.

Inflections are made by rule (rides, riding, rode is listed as irregular), so one base form
covers what people write.
"""

from __future__ import annotations

import functools

_BASE = """
add approach arrange balance bark bite blow bounce brush build buy carry catch chase chew climb
clean close crawl cross cut dance dangle decorate dig dive drag drape drink drive eat
enter examine feed fill flip float fly fold follow gather gaze glance grab graze grin grip hang
hit hold hop hover hug hunt jog jump kick kiss kneel lay lead lean leap lick lift load
lounge measure melt mix move nap nibble open pack pass peek peer perch pick place play position
pose pour prepare pull push put reach read relax ride rinse run scratch serve shake share shine
sing sip sit skate sleep slice slide smell smile sniff snuggle soak spill splash spray squat
stack stare steer stir stretch stroll swim swing talk taste tear throw touch toss tow travel
trot try tug walk wait wash wear wipe write yawn
""".split()  # noqa: SIM905 (a word list reads better as text)

_IRREGULAR = {
    "bite": ("bit", "bitten"), "blow": ("blew", "blown"), "build": ("built",),
    "buy": ("bought",), "catch": ("caught",), "cut": ("cut",), "dig": ("dug",),
    "drink": ("drank", "drunk"), "drive": ("drove", "driven"), "eat": ("ate", "eaten"),
    "fly": ("flew", "flown"), "hang": ("hung",), "hit": ("hit",),
    "hold": ("held",), "kneel": ("knelt",), "lay": ("laid",), "lead": ("led",),
    "leap": ("leapt",), "put": ("put",), "read": ("read",), "ride": ("rode", "ridden"),
    "run": ("ran",), "shake": ("shook", "shaken"), "shine": ("shone",), "sing": ("sang", "sung"),
    "sit": ("sat",), "sleep": ("slept",), "slide": ("slid",), "swim": ("swam", "swum"),
    "swing": ("swung",), "tear": ("tore", "torn"), "throw": ("threw", "thrown"),
    "wear": ("wore", "worn"), "write": ("wrote", "written"),
}
_DOUBLED = {"chat", "dig", "flip", "grab", "grin", "grip", "hit", "hop", "hug", "jog",
            "nap", "pat", "put", "run", "sip", "sit", "skip", "stir", "swim", "tug", "cut",
            "trot"}


def _forms(base: str) -> set[str]:
    """A verb's inflections: third person, -ing, -ed (and its irregular past forms)."""
    if base.endswith(("s", "sh", "ch", "x", "z")):
        third = base + "es"
    elif base.endswith("y") and base[-2] not in "aeiou":
        third = base[:-1] + "ies"
    else:
        third = base + "s"
    if base in _DOUBLED:
        stem = base + base[-1]
    elif base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        stem = base[:-1]
    else:
        stem = base
    if base.endswith("e"):
        past = base + "d"
    elif base.endswith("y") and base[-2] not in "aeiou":
        past = base[:-1] + "ied"
    else:
        past = stem + "ed"
    return {third, stem + "ing", past, *_IRREGULAR.get(base, ())}


@functools.cache
def verb_forms() -> dict[str, str]:
    """Every inflected form (not the base) -> its base: "rides" -> "ride"."""
    return {form: base for base in _BASE for form in _forms(base) if form != base}


BASES = frozenset(_BASE)

# Words ending in -ing that name things, not actions: "a public building", "the ceiling", "a
# dining table" (a gerund before a noun is part of its name).
ING_NOUNS = frozenset("""
building buildings ceiling ceilings painting paintings clothing railing railings wedding
evening morning string strings wing wings ring rings king pudding frosting icing awning
bedding lighting seating parking dining living sibling duckling dumpling stuffing topping
toppings filling landing ping-pong
""".split())  # noqa: SIM905
# Words ending in -ing that describe a thing's fit and follow the word they grade: "form
# fitting", "loose fitting", "tighter fitting" (in the corpora 600+ times, never a verb; read as
# one after "form", "is form fitting" lost its "fitting" and wanted a "form").
ING_ADJECTIVES = frozenset({"fitting"})
