"""What a chat turn does: the dialogue act, then (for a refinement) its references and text.

A search conversation has few moves, and most turns are one of them:
- *refine*: say what is wanted ("a red dress", "not 2", "like 4 but darker");
- *page*: turn the shown page down and ask for others ("none of these", "keep looking", "nope");
- *undo*: take the last turn back ("undo", "go back", "scratch that");
- *found*: the person has it ("that's it, 3", "#2 is the one");
- *question*: about the search itself ("what do you remember?", "why is 3 here?",
  "why no blue ones?", "what's the difference between 2 and 3?");
- *chat*: no request at all ("thanks", "hmm ok", "hi there").

Design decisions:
- The moves other than *refine* are recognised as whole turns, after the politeness and
  hedges around them are peeled off ("ok, none of these please"). A move phrase inside a
  longer request ("none of these, I want blue") is not the move: the request already changes
  the page, so the turn is a refinement and only its request is read. This is what keeps the
  readers from fighting: a sentence is either a move or a request, never half of each.
- The phrases are a small grammar (a head verb or quantifier and its objects), not a list of
  sentences: "show me other ones", "give me different options", "any others?" all come from
  the *page* rule `(show|give|any|more)… (other|different|new|more)… (ones|options|…)`.
  Turns the grammar does not cover fall through to *refine*, which keeps any unknown content
  as free text the person can see and remove, so a miss is visible rather than silent.
- Request frames and politeness ("do you have …", "could you show me …", "I'm after …",
  "would you happen to have …") are removed before the request is read, so they never become
  constraints; a question that is a request ("is there anything in blue?") is a *refine*.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from agent.decompose import unabbreviated
from agent.interpret import (
    AFTER_ORDINAL,
    ORDINALS,
    Turn,
    UnknownReference,
    interpret,
    negative_reference,
)
from retrievers.clip_tokens import whole_words
from retrievers.vocabulary import normalize

ACTS = ("refine", "page", "undo", "found", "question", "chat")


@dataclass(frozen=True, kw_only=True)
class Understanding:
    act: str  # one of ACTS
    text: str = ""  # the request left for the decomposer (refine only)
    liked: tuple[int, ...] = ()  # ranks, as in interpret.Turn
    disliked: tuple[int, ...] = ()
    reference: int | None = None
    reset: bool = False
    page: bool = False  # a refinement that also turned the page down ("none of these, blue")
    found: int | None = None  # the rank picked by a *found* move
    # "memory" | "why" | "why-not" | "compare" | "other" (any other question about the search)
    question: str | None = None
    about: int | None = None  # the rank a "why is 3 here?" asks about
    other: int | None = None  # the second rank of "what's the difference between 2 and 3?"
    topic: str = ""  # what a "why no blue ones?" asks about ("blue ones")
    chat: str | None = None  # "thanks" | "greeting" | "ack" for a *chat* turn


# -- the small grammar of moves --------------------------------------------------------------

_W = r"[\s,.!?;:]*"  # separators between words
# please and thank you as travellers say them ("por favor", "merci", "grazie", "bitte")
_FOREIGN_POLITE = (r"(?:por favor|merci(?: beaucoup)?|grazie(?: mille)?|bitte(?: schön)?|"
                   r"danke(?: schön)?|gracias|s'il vous plaît|s'il te plaît|prego|obrigad[oa]|"
                   r"arigato|dankjewel|tack)")
_POLITE = (r"(?:please|pls|plz|thanks|thank you|thx|ty|kindly|maybe|perhaps|just|again|then|"
           r"now|instead|for me|mate|friend|sir|either|too|anyway|though|tho|sorry|"
           r"if (?:you can|you could|possible|you don'?t mind)|when you can|"
           rf"{_FOREIGN_POLITE})")
_LEAD = (r"(?:ok(?:ay)?|hmm+|um+|uh+|well|oh|ah+|so|right|alright|sorry|no|nope|nah|yeah+|"
         r"yes+|yep|yup|ya|yah|yea|hm|meh|ugh|actually|hey|erm|er|sigh|lol|wait|omg|wow|yay|great|argh|damn|"
         r"still|"
         r"can we|could we|can you|could you|would you|let'?s|please|i(?:'d| would) like to|"
         r"i want to|i wish to|i need to|bollocks|crap|dammit|shoot|oops|whoops)")
_THIS = r"(?:these|those|them|this|that|it|they|the ones shown|this page|this lot|any of (?:these|those|them))"
_ONES = (r"(?:ones?|options?|results?|images?|pictures?|pics?|photos?|items?|things?|"
         r"suggestions?|stuff|choices?|page|photographs?)")
_OTHER = r"(?:other|others|different|new|more|fresh|another|else|alternative|further|next)"

def _grammar(*alternatives: str) -> re.Pattern:
    """One pattern that matches a whole (peeled) turn against any of the alternatives."""
    return re.compile("^(?:" + "|".join(f"(?:{a})" for a in alternatives) + ")$")


_PAGE = _grammar(
    r"not (?:these|those|them|it|quite|really|this one|that one|any of (?:these|those|them))",
    rf"none(?: of {_THIS})?(?: (?:is|are|r|looks?|seems?) (?:it|right|good|close|"
    rf"what i (?:want|need|mean)(?:ed)?))?(?: (?:try again|keep looking|more))?",
    r"nothing (?:here|there|good|right|close|similar)(?: (?:i|that i) (?:like|want))?"
    r"(?: (?:suits|works|fits|matches|does it|is it|is right|is close))?(?: more)?",
    rf"(?:i )?(?:don'?t|do not) (?:like|want|love|care for|fancy) (?:any of )?{_THIS}",
    rf"(?:{_THIS} )?(?:are|is|look|looks) (?:all )?(?:wrong|bad|off|not (?:it|right|good|"
    rf"correct|what i want(?:ed)?)|incorrect|no good|terrible|awful)",
    rf"(?:{_THIS}|all of (?:these|those|them)) (?:aren'?t|isn'?t|don'?t) (?:it|right|good|work)",
    r"nothing(?: like (?:it|that))?",
    # "show me other ones", "give me some different options", "any others", "new ones please"
    rf"(?:(?:show|give|get|find|bring|display|load) (?:me |us )?|(?:i )?(?:want|need|would like|'?d like) "
    rf"(?:to see )?|(?:can|could|would) (?:you|i) (?:show|see|get|have) (?:me )?|let me see |"
    rf"any |some |got any |(?:are|is) there (?:any )?)?(?:some |a few |a couple |the )?"
    rf"(?:{_OTHER} )*{_OTHER}(?: {_ONES}| batch| set| round| lot| bunch)?(?: of {_ONES})?"
    rf"(?: than {_THIS})?",
    r"(?:(?:got|have you got|you got|is there|have you|any chance of) )?"
    r"(?:something|anything|somethin|anythin) (?:else|different|new)",
    r"(?:keep|carry on|go on|continue)(?: (?:looking|going|searching|trying))?",
    r"(?:try|search|look) (?:again|more|further|elsewhere|harder)",
    r"try(?: (?:something|anything))?",  # "try again" once its "again" is peeled off
    r"not (?:quite|really|yet)",
    r"(?:nope|nah|no|meh|ugh)(?: (?:nope|nah|no|meh|ugh))*",
    # another page: "next page", "can i see page 2", "on to the second page"
    rf"(?:(?:show|give) (?:me |us )?|(?:can|could|may) (?:i|we) (?:see|have|get|go to) |"
    rf"(?:go|skip|move|on|jump|flip|turn|take me|bring me|get me) to |let me see |see )?"
    rf"(?:the |a )?(?:{_OTHER}|second|2nd|following|"
    rf"third|3rd) pages?",
    r"(?:(?:show|give) (?:me |us )?|(?:can|could|may) (?:i|we) (?:see|have|get|go to) |"
    r"(?:go|skip|move|on|jump|flip|turn|take me|bring me|get me) to |let me see |see )?"
    r"page (?:\d|two|three|next)",
)

_AS_IT_WAS = (r"(?:(?:the )?way|how|as|like|what) (?:it|they|things|everything) (?:was|were|"
              r"looked|had it)(?: (?:before|earlier|just now|a (?:moment|second|sec|minute|"
              r"min|bit|while) ago))?")
_UNDO = _grammar(
    r"undo(?: (?:that|this|it|the last(?: (?:one|change|step|turn|thing))?))?",
    r"(?:go|step|going) back(?: (?:one(?: step)?|a step|once|to (?:the )?(?:before|previous|last|earlier)"
    r"(?: (?:one|ones|page|results|step))?))?",
    r"back(?: to (?:the )?(?:before|previous|last|earlier)(?: (?:one|ones|page|results|step))?)?",
    r"take (?:that|it|this) back",
    r"scratch that|revert(?: that)?|(?:un-?do|cancel) (?:that|the last (?:one|change|step))",
    r"(?:that was )?(?:a )?mistake|(?:oops|whoops)(?: undo)?",
    r"i (?:made|have made|'ve made) a mistake(?: (?:with|in) (?:my|the|that) (?:previous|last) "
    r"(?:instruction|message|request|one|step|change|turn))?(?: (?:kindly |please )?"
    r"(?:reverse|undo|revert|cancel) (?:it|that))?",
    r"(?:reverse|revert|cancel) (?:it|that|this)",
    r"(?:the )?(?:previous|last|earlier) (?:page|results|ones)(?: (?:were|was) better)?",
    r"(?:forget|ignore|disregard|delete|scrap|strike|ditch|drop|never mind) (?:what i just said|"
    r"(?:that|my|the) (?:last|previous|latest) (?:one|bit|turn|thing|message|request|change|"
    r"step|instruction|sentence|edit))",
    r"(?:strike|scrap|ditch|forget|ignore|disregard|delete) (?:that|this|it)",
    r"never mind(?: (?:that|it|then))?(?: (?:go back|undo(?: that)?|take (?:that|it) back|"
    r"go back (?:one|a) step))?",
    r"(?:that|this|it) (?:made it|makes it|is|was|got|looks?|went) (?:(?:much|even|a lot) )?"
    r"worse(?: (?:go back|undo(?: that)?|take (?:that|it) back))?",
    r"(?:that|it|the last one|the one before) (?:was|looked|were) better(?: before)?",
    # "put it back the way it was", "change it back", "back to how it was before"
    rf"(?:(?:put|change|set|turn|make|switch) (?:it|that|this|things|everything|them) back|"
    rf"(?:go |get |take me |bring it )?back to)(?: {_AS_IT_WAS})?",
    rf"(?:go back|revert|return|restore(?: it)?)(?: to)? {_AS_IT_WAS}",
    r"(?:undo|revert|reverse|cancel|take back|scrap|drop) (?:my|the|your|that) (?:last|previous|"
    r"latest|most recent) (?:change|edit|step|one|request|message|turn|thing|bit|instruction)",
)

_FOUND_PHRASE = (r"(?:that'?s it|this is it|that is it|found it|got it|bingo|that'?s the one|"
                 r"this is the one|that is the one|that'?s mine|exactly|jackpot|yes+ that'?s it|"
                 r"there it is|perfect|perfetto|parfait|perfecto|nailed it|"
                 r"there (?:she|he) is|(?:i'?ll|ill|i will|i'?m going to|i'?m gonna|gonna) "
                 r"(?:order|buy|get|take|have|keep) (?:that|this|it)(?: one)?|"
                 r"(?:that'?s|this is|that is) my \w+|"
                 r"(?:that'?s|this is|that is) the (?:pic|picture|photo|image)|"
                 r"(?:it'?s|it is|that'?s|that is|this is) (?:exactly |just )?what (?:i|we) "
                 r"(?:need|needed|want|wanted|was after|was looking for)|"
                 r"(?:that'?s|this is|that is|there'?s|here'?s) (?:her|him|them|the \w+ i "
                 r"(?:want|wanted|meant|was after)))")
_ORDINAL = "|".join((*ORDINALS, "last"))
_RANK = (r"(?:(?:#\s*|no\.?\s*|number |image |result |picture |photo |pic |option )?"
         rf"\d{{1,2}}(?:st|nd|rd|th)?|(?:the )?\d{{1,2}}(?:st|nd|rd|th)(?: one)?|"
         rf"(?:the )?(?:{_ORDINAL})(?: one)?)")
_RANK_ALONE = re.compile(rf"(?:the )?{_RANK}(?: one)?")
_RANK_VALUE = re.compile(rf"(?<![\w-])(\d{{1,2}})(?:st|nd|rd|th)?(?![\w-])|\b({_ORDINAL})\b")
# what the person had in mind: "what i was looking for", "the one we wanted"
_WANTED = (r"(?:i|we) (?:(?:was|were|am|are) )?(?:want|wanted|need|needed|mean|meant|"
           r"looking for|searching for|hunting for|trying to find|after|had in mind|"
           r"have in mind|imagined|pictured)")
_FOUND = _grammar(
    rf"{_FOUND_PHRASE}(?: (?:it'?s |its |is )?(?:the )?{_RANK}(?: one)?)?",
    rf"{_RANK} (?:is|it'?s|was) (?:exactly |just |totally |precisely )?(?:it|the one|"
    rf"(?:the )?mine|perfect|spot on|what {_WANTED}|the one {_WANTED}|"
    rf"my (?:pic|picture|photo|image|one|pick|choice|winner))",
    rf"{_RANK} (?:(?:is|it'?s|was) )?(?:exactly|just|precisely) what {_WANTED}",
    # "6 is the holiday pic i was after": the thing named, then what the person had in mind
    rf"{_RANK} (?:is|it'?s|was) (?:exactly |just )?the (?:[a-z]+ ){{1,3}}?{_WANTED}",
    rf"{_RANK} it is",
    rf"(?:i'?ll take|i (?:choose|pick)|i'?ll go with|(?:it'?s|its)|(?:i'?m |i am )?going with|"
    rf"(?:i'?ll|ill|i will) (?:buy|have|take|go with|get)|i'?d (?:buy|take|go with)) {_RANK}",
    rf"{_RANK} {_FOUND_PHRASE}",
)
_WHY_RANK = _grammar(
    rf"(?:why|how come) (?:is|was|are|did you (?:show|pick|choose)|did) {_RANK}"
    r"(?: (?:here|there|shown|on top|first|in the results|showing|included|chosen|picked|"
    r"show up|in|at the top|up top|so high|in first place|first place|top))*",
)
_WHY_NOT = re.compile(
    r"^(?:why|how come) (?:(?:are|is) there )?(?:no|not any|nothing|none of the|"
    r"aren'?t there any|don'?t i see any|can'?t i see any|no more) (?P<topic>.+?)"
    r"(?: (?:here|shown|showing|anymore|any more))?$")
# "what's the difference between 2 and 3?", "how is 2 different from 3", "compare 1 and 4"
_COMPARE = _grammar(
    rf"(?:what'?s|whats|what is|what are) (?:the )?(?:difference|differences) between "
    rf"{_RANK} and {_RANK}",
    rf"how (?:is|are|does|do) {_RANK} (?:different|differ) (?:from|to|than) {_RANK}",
    rf"(?:compare|contrast) {_RANK} (?:and|with|to|vs) {_RANK}",
    rf"{_RANK} (?:vs\.?|versus) {_RANK}",
)
_MEMORY = _grammar(
    r"what (?:do|did) you (?:remember|know|have|understand|think i want)(?: so far)?",
    r"what (?:are|am) (?:you|we|i) (?:looking|searching) for(?: (?:now|exactly))?",
    r"what (?:have|did) i (?:said|say|ask|asked|told you|tell you)(?: for)?(?: so far)?",
    r"what(?:'?s| is) (?:in )?(?:your |the )?(?:memory|search|query|filters?|constraints?)"
    r"(?: now| so far)?",
    r"(?:show|tell) me (?:what you (?:remember|know|have)|your memory|the (?:filters|constraints))",
    r"what (?:filters|constraints|rules) (?:do|did) (?:you|u) (?:have|use)(?: on)?(?: (?:now|rn|right now))?",
    r"(?:remind me )?what (?:was i|were we) (?:looking|searching) for",
    r"(?:can you |could you )?(?:remind me|tell me) what (?:i|we) (?:asked for|said|wanted|want|"
    r"told you|am after|was after)(?: (?:at the start|earlier|before|so far))?",
    r"(?:do|did) you (?:remember|recall|know) what (?:i|we) (?:told you|said|asked for|wanted)"
    r"(?: (?:at the start|earlier|before|at first|so far))?",
    r"how (?:did|do) you (?:read|understand|interpret|take) (?:my|that|the) (?:last |previous )?"
    r"(?:message|request|instruction|turn|question)",
    r"(?:what|which) (?:did|have) i (?:say|said|tell you|told you) (?:i )?(?:don'?t|do not|didn'?t)? ?"
    r"(?:want|like|need|mind)(?: so far)?",
    # "have i told you anything about sleeves yet?", "what did i say about the colour?"
    r"(?:have|did) i (?:told|tell|said|say|mention(?:ed)?|asked? for|given|give) (?:you )?"
    r"(?:anything|something|much) (?:about|on|regarding) .+?(?: (?:yet|so far|already))?",
    r"what (?:have|did) i (?:told|tell|said|say|mention(?:ed)?) (?:you )?(?:about|on) .+",
    r"what (?:did|have) i (?:say|said) (?:no|yes) to(?: so far)?",
    r"(?:which|what) (?:ones?|images?|results?|pictures?) (?:have|did) i (?:(?:say|said) )?(?:i )?"
    r"(?:like|liked|dislike|disliked|pick|picked|choose|chose|reject|rejected|rule|ruled)"
    r"(?: out)?(?: so far)?",
)

# what people say to be kind to whoever helps them: "i hope you are well", "you've been most
# helpful"
_KIND_WORDS = (r"(?:this|that|it) (?:is|was) (?:(?:actually|really|so|quite|kinda|pretty|"
               r"rather) )*(?:fun|cool|neat|handy|useful|clever|impressive)"
               r"(?: (?:ngl|tbh|honestly|lol))?|(?:i )?hope (?:you'?re|you are|u r|all is) (?:well|good|ok(?:ay)?|fine)"
               r"(?: today)?|(?:you'?ve|you have) been (?:(?:very|most|so|really|super|a) )?"
               r"(?:helpful|great|brilliant|kind|patient|a (?:great |big )?help)")
_COMPLIMENT = (r"(?:(?:you'?re|your|you are|ur) (?:a star|the best|a legend|great|amazing|"
               r"awesome|brilliant|a lifesaver|a genius|a gem))")
_THANKS = r"(?:much obliged|many thanks|ta|thanks|thank you|thank ya|thanks ya|merci(?: beaucoup)?|grazie(?: mille)?|danke(?: schön)?|gracias|obrigad[oa]|arigato|thx|ty|cheers|much appreciated|appreciate it|thank u|thank youu+)"
_GREETING = (r"(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening)|howdy|"
             r"how(?:'s| is) it going|how are (?:you|u|things)(?: doing| today)?|"
             r"how(?:'s| is) your day|what's up|sup|wassup)")
_ACK = (r"(?:ok(?:ay)?|k|hmm+|hm+|um+|uh+|ah+|oh+|cool|nice|great|good|wow|lol|haha|sure|"
        r"alright|right|yeah|yes|yep|interesting|i see|got it|fine|neat|awesome|fair enough|"
        r"no worries|np|mm+|wait|let me think|let me see|huh|bye|goodbye|see (?:ya|you)(?: later)?|"
        r"cya|ttyl|lovely|brilliant|sweet|sorted|perfetto|parfait|perfecto|"
        r"perfect|excellent|amazing|yay|yes+|woo+|finally|wonderful|fantastic|marvell?ous|"
        r"splendid|superb|terrific|lovely stuff|done|there we go|here we go|spot on|"
        # "hang on a sec", "give me a minute to look through these"
        r"(?:hang on|hold on|wait|one|just a|give me a|gimme a)(?: a)? (?:sec|second|minute|"
        r"moment|tick|mo)(?: (?:to|while) (?:i )?(?:look|think|check|read|decide|scroll)\b.*)?|"
        r"hang on|hold on|brb)")
_CHAT = re.compile(rf"^(?:(?:{_THANKS}|{_GREETING}|{_ACK}|{_COMPLIMENT}|{_KIND_WORDS})(?: (?:so much|a lot|there|again|"
                   rf"very much|for (?:that|the help|your help|helping)|mate|buddy|friend|"
                   rf"(?:very |so |super |really )?helpful|honestly|tbh|ngl|seriously|lol|"
                   rf"rummage|{_COMPLIMENT}|{_KIND_WORDS}))* ?)+$")

# Frames around a request that carry no content: the request is what follows them.
_FRAMES = re.compile(
    # a greeting or an interjection before the frame says nothing either: "hey could you ..."
    r"^\s*(?:(?:hey|hi|hiya|hello|yo|oi|ok|okay|so|right|um+|hmm+|oh|ah|well)[\s,!]+)*"
    r"(?:(?:do|does) (?:you|u|ya) (?:have|got|carry|sell|stock|happen to have)(?: any)?|"
    r"(?:would|do) (?:you|u) happen to have(?: any)?|"
    r"(?:have|got) (?:you )?(?:got )?any(?:thing)?|"
    r"(?:is|are) there(?: any)?|"
    r"(?:is|would|will) it be possible to(?: (?:see|get|have|find|show(?: me| us)?))?|"
    r"is it possible to(?: (?:see|get|have|find|show(?: me| us)?))?|"
    r"(?:please |kindly )(?:show|find|give|get)(?: me| us)?|"
    r"(?:i|we) (?:wanted|meant|was after|were after|was looking for|were looking for)|"
    r"(?:can|could|would|will) (?:you|u) (?:please |kindly |possibly |just )?(?:show|find|give|get|bring|do|make|"
    r"try|pull up|dig up|look for|search for)(?: me| us)?|"
    r"(?:can|could|may) i (?:see|have|get)|"
    r"(?:i'?m|i am|i was|we'?re|we are|we were) (?:after|looking for|searching for|hunting for|"
    r"trying to find|in the market for)|"
    r"(?:i|we) (?:search|seek|look|am searching|am seeking) (?:for )?|"
    r"(?:i'?d|i would|we'?d) (?:like|love)(?: to see)?|"
    r"any chance (?:of|(?:you|u)(?:'?ve got|'?d have| have| got| carry| sell| stock|"
    r" might have))|"
    r"(?:let me see|let'?s see|let'?s try|how about|what about))\b\s*", re.IGNORECASE)

# Hedges: how sure the speaker is, never what they want.
_HEDGES = re.compile(
    r"\s*\b(?:kinda|sorta|kind of|sort of|i guess|i think|i suppose|i reckon|reckon|i mean|tbh|"
    r"ngl|lol|btw|imo|def|defo|"
    r"to be honest|honestly|idk|i dunno|basically|probably|maybe|perhaps|(?:like |as )?i (?:said|"
    r"told you|already said|mentioned))\b", re.IGNORECASE)


# A clause of nothing but "no"/"nope" before a request ("no, green checks") is how a person
# starts a correction, not a page turned down: the request already says what changes.
_HEDGE_ONLY = re.compile(r"(?:(?:no|nope|nah|meh|ugh|hmm+|um+)\b\s*)*")


@functools.lru_cache(maxsize=256)  # a turn tidies its text for each reader that looks at it
def _tidy(text: str) -> str:
    """Lowercase, straight quotes, no edge punctuation, one space between words, and the
    contractions people type without their apostrophe written with it ("thats it", "dont")."""
    tidy = normalize(text.replace("\u2018", "'")).strip(" …-")
    tidy = _NUMBER_WORD.sub(lambda m: f"number {_NUMBER_WORDS.index(m.group(1)) + 1}", tidy)
    tidy = re.sub(r"\b(\d{1,2})'s\b", r"\1 is", tidy)  # "1's the one"
    return _BARE_CONTRACTION.sub(lambda m: _CONTRACTIONS[m.group()], tidy)


# "number ten" is "number 10"
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NUMBER_WORD = re.compile(r"\bnumber (" + "|".join(_NUMBER_WORDS) + r")\b")


# Contractions typed without the apostrophe, which the grammar writes with it (only words that
# are no other English word: "its", "id", "were", "well", "hell" are left alone), and the
# spellings of texting ("r u", "ur", "rite", "nvm"): a move is read in the words it stands for.
# Only moves are read from this text; a request keeps its words ("a u neck top").
_CONTRACTIONS = {bare.replace("'", ""): bare for bare in """don't doesn't didn't isn't aren't
    wasn't weren't can't couldn't won't wouldn't shouldn't haven't hasn't that's what's
    there's here's who's how's where's i'm i've you're you've they're we've let's""".split()}  # noqa: SIM905
_CONTRACTIONS |= {"u": "you", "r": "are", "ur": "your", "rite": "right",
                  "nvm": "never mind", "thnx": "thanks", "tnx": "thanks", "pic": "picture",
                  "nxt": "next", "moar": "more", "pg": "page", "msg": "message",
                  "sth": "something", "smth": "something", "teh": "the", "hte": "the",
                  "taht": "that", "thta": "that", "adn": "and", "waht": "what", "yuo": "you",
                  "jsut": "just", "numbr": "number", "nubmer": "number"}
_BARE_CONTRACTION = re.compile(r"\b(?:" + "|".join(_CONTRACTIONS) + r")\b")


def _peel(text: str) -> str:
    """The move phrase inside its politeness: "ok, none of these please" -> "none of these"."""
    previous = None
    while previous != text:
        previous = text
        text = re.sub(rf"^{_LEAD}\b{_W}(?=\S)", "", text)
        text = re.sub(rf"{_W}\b{_POLITE}$", "", text)
        text = re.sub(rf"^{_POLITE}\b{_W}(?=\S)", "", text)
        text = text.strip(" ,.!?;:…-")
    return re.sub(r"\s*[,.!?;:]+\s*", " ", text).strip()


def _rank_of(text: str) -> int | None:
    """The rank a move names ("#3", "the third one", "the last one"; -1 for last)."""
    match = _RANK_VALUE.search(text)
    if match is None:
        return None
    if match.group(1):
        return int(match.group(1))
    return -1 if match.group(2) == "last" else ORDINALS[match.group(2)]


@functools.lru_cache(maxsize=256)  # a one-clause turn is read whole and again as its clause
def move_of(text: str) -> Understanding | None:
    """The move of a whole turn, or None when the turn is a request (see the docstring)."""
    tidy = _tidy(text)
    if not tidy:
        return None
    flat = re.sub(r"\s*[,.!?;:]+\s*", " ", tidy).strip()
    if _CHAT.fullmatch(flat):
        kind = ("thanks" if re.search(_THANKS, flat)
                else "greeting" if re.match(_GREETING, flat) else "ack")
        return Understanding(act="chat", chat=kind)
    core = _peel(tidy)
    if not core:  # only hedges: "nope", "meh", "no no" turn the page; "ok then" is chat
        if re.search(r"\b(?:no|nope|nah|meh|ugh)\b", flat):
            return Understanding(act="page")
        return Understanding(act="chat", chat="ack")
    if _UNDO.fullmatch(core):
        return Understanding(act="undo")
    found = _FOUND.fullmatch(core)
    if found:
        return Understanding(act="found", found=_rank_of(core) or 1)
    why = _WHY_RANK.fullmatch(core)
    if why:
        return Understanding(act="question", question="why", about=_rank_of(core))
    why_not = _WHY_NOT.fullmatch(core)
    if why_not:
        return Understanding(act="question", question="why-not", topic=why_not.group("topic"))
    if _COMPARE.fullmatch(core):
        first, second = (_rank_of(m.group()) for m in _RANK_VALUE.finditer(core))
        return Understanding(act="question", question="compare", about=first, other=second)
    if _MEMORY.fullmatch(core):
        return Understanding(act="question", question="memory")
    if _PAGE.fullmatch(core):
        return Understanding(act="page")
    return None


# -- moves by their cue words: a turn with no content left --------------------------------------
# The grammar above reads the moves people are expected to make. A turn it does not match but
# that says nothing about the thing (every word a function word, a hedge, a rank or a cue of
# a move) is still a move, and its cue words say which: "gimme the ones before that, they
# were better" has no content and "before" and "better" are undo cues. A single unknown word
# keeps the turn a refinement, where it is shown as free text: a miss stays visible.
_CUES = {
    "found": frozenset("""found bingo jackpot winner nailed exactly perfect mine take taking pick
        picking choose choosing chosen go going with one it that's thats this is yes yess yesss
        yay finally got done stop literally wanted want looking after yep yeah omg have having
        spot on""".split()),  # noqa: SIM905
    "undo": frozenset("""undo undone undoo revert reverse back previous before earlier cancel
        worse mistake oops whoops scratch scrap restore put last step ignore forget mean meant
        return preferred prefer closer better rewind ctrl z go going went take bring roll typo
        rollback""".split()),  # noqa: SIM905
    "question": frozenset("""why what whats what's how where which remember know filters filter
        constraints memory searching looking asked difference diff differ different compare vs
        versus doing explain summarise summarize summary active tell said end ended even list
        between btw made choose think want after search criteria criterion settings
        preferences applying using currently noted recorded tracking ruled excluded
        removed rejected banned blocked understood liked disliked picked chose""".split()),  # noqa: SIM905
    "page": frozenset("""none no nope nah nothing other others different else next another new
        more keep going again wrong elsewhere further alternatives options rest try trying
        show see seeing look looking any anything something not these those them off bad
        missed miss skip luck em coming load lot batch set work working feeling rubbish
        meh go on continue scroll moving along page matches match following jump ahead
        forward""".split()),  # noqa: SIM905
    "chat": frozenset("""thanks thank thx ty ta cheers hi hello hey hiya yo ok okay k cool nice
        great awesome lovely brilliant sweet sure alright right hmm hm um uh ah oh ooh lol haha
        wow neat good fine bye goodbye morning sec moment brb sorry distracted think""".split()),  # noqa: SIM905
}
# Words that carry no content in a move: pronouns, auxiliaries, particles, politeness.
_MOVE_FILLER = frozenset("""a an the i i'm im i've ive i'd id me my we us our you u ur your it it's
    its is are was were be been am do does did done can could would should will shall may might
    must have has had got get gets give gimme show showing let lets let's to of in on at for from
    by up down out over about as so and or but then than there here that those this these they
    them their please pls plz just maybe perhaps really very quite bit little so much too also
    now still yet again ones one stuff things thing lot all some any result results image
    images picture pictures pic pics photo photos option options page item items thx
    made makes make looks look seems seem what's whats that's thats isn't aren't don't dont
    doesn't didn't wasn't weren't not na number no ten i'll
    ill we'll wait actually oh ooh ugh argh omg atm rn come came there's theres here's
    message way either you're you've we're they're kindly possible possibly if change changes
    changed tweak tweaks edit edits help helped""".split())  # noqa: SIM905
_QUESTION_WORDS = ("why", "what", "whats", "what's", "how", "where", "which")
_CUE_WORDS = frozenset().union(*_CUES.values())
_NUMERAL = re.compile(r"#?\d+(?:st|nd|rd|th)?")


def _move_by_cues(text: str) -> Understanding | None:
    """The move of a turn without content, read from its cue words (see above); None when a
    word is content or no cue decides."""
    tidy = re.sub(r"\bso far\b", "", _tidy(_HEDGES.sub("", text)))
    words = re.findall(r"#?\d+(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)?", tidy)
    if not words:
        return None
    ranks, unknown = [], []
    for i, word in enumerate(words):
        after = words[i + 1] if i + 1 < len(words) else ""
        if _NUMERAL.fullmatch(word):
            ranks.append(_rank_of(word))
        elif word in ORDINALS:
            ranks.append(ORDINALS[word])
        elif (word == "last" and i and words[i - 1] == "the"
              and (not after or after in AFTER_ORDINAL)):
            ranks.append(-1)  # "the last one"; "my last message" is no rank
        elif word not in _CUE_WORDS and word not in _MOVE_FILLER:
            meant = _slip_of(word) if len(unknown) <= 4 else None
            if meant is None:
                unknown.append(word)
            else:
                words[i] = meant
    said = set(words)
    opening = next((w for w in words if w not in _LEAD_WORDS), words[0])
    asks = (opening in _QUESTION_WORDS or opening in _ASKING or text.rstrip().endswith("?")
            or "why'd" in said or " tell me " in f" {tidy} ")
    # "why no red ones?", "where did the dogs go?": the content is what is asked about
    suggests = said & {"try", "show", "give", "make", "get", "find"}  # "why not try black"
    if asks and not suggests and (said & {"why", "why'd", "where"} or "how come" in tidy) and (
            said & _ABSENT or re.search(r"n't\b|\bnt\b", tidy)) and len(unknown) <= 4:
        topic = " ".join(unknown) or " ".join(w for w in words if w not in _MOVE_FILLER
                                              and w not in _CUE_WORDS)
        if topic and not ranks:
            return Understanding(act="question", question="why-not", topic=topic)
    moving = said & {"go", "going", "went", "take", "bring", "put", "step", "roll", "change",
                     "changed", "turn", "set", "switch"}
    if unknown or ("back" in said and not moving):
        return None  # content: a request ("has no back" is a shoe's back, not a step back)
    if asks:
        if len(ranks) >= 2 and said & {"difference", "diff", "differ", "different", "compare",
                                       "vs", "versus"}:
            return Understanding(act="question", question="compare", about=ranks[0],
                                 other=ranks[1])
        if len(ranks) == 1:
            return Understanding(act="question", question="why", about=ranks[0])
        if said & _MEMORY_WORDS:
            return Understanding(act="question", question="memory")
    found_cues = said & _CUES["found"] - {"it", "one", "is", "this", "that's", "thats", "with",
                                          "go", "going", "yes", "yess", "yesss", "yay"}
    if ranks and said & {"it", "its", "it's"} and said & {"is", "it's", "its"}:
        found_cues.add("it")  # "the third one is it"
    denied = said & {"not", "no", "nope", "nah", "never", "wrong", "isnt", "isn't", "aren't",
                     "arent", "don't", "dont", "doesn't", "doesnt"}  # "4 is not it"
    if found_cues and not denied and (ranks or said & {"found", "bingo", "jackpot", "nailed",
                                                       "exactly", "perfect", "winner"}):
        return Understanding(act="found", found=ranks[0] if ranks else 1)
    if ranks:
        return None  # "3 please", "not 2": picks, read by interpret
    undo = said & _CUES["undo"] - {"last", "put", "step", "better", "closer", "prefer", "go",
                                   "going", "went", "take", "bring", "back"}
    if undo or "back" in said:  # with a verb of motion, as checked above
        return Understanding(act="undo")
    chat = said & _CUES["chat"]
    page = said & _CUES["page"]
    if page - _WEAK_PAGE or (page and not chat):
        return Understanding(act="page")
    if chat:
        kind = ("thanks" if said & {"thanks", "thank", "thx", "ty", "ta", "cheers"}
                else "greeting" if said & {"hi", "hello", "hey", "hiya", "yo", "morning"}
                else "ack")
        return Understanding(act="chat", chat=kind)
    return None


def _slip_of(word: str) -> str | None:
    """The cue or filler word a typing slip stands for ("perfcet", "thnaks", "pleae"), or None:
    one letter left out or two neighbours swapped, pointing at exactly one word of five letters
    or more. A letter too many or a changed letter is as often another real word ("wording" is
    no "working", "summery" no "summary": on the corpora they turned 25 descriptions into
    moves), and a word CLIP's tokenizer knows whole is a real word, never a slip; so
    Vocabulary.respell reads slips of a vocabulary's words."""
    if len(word) < 4 or not word.isalpha() or word in whole_words():
        return None
    found = set(_MISSING_ONE.get(word, ()))
    found |= {swapped for i in range(len(word) - 1)
              if (swapped := word[:i] + word[i + 1] + word[i] + word[i + 2:]) in _SLIP_TARGETS}
    found.discard(word)
    return found.pop() if len(found) == 1 else None


# the words a slip may stand for, and each one's spellings with a letter left out
_SLIP_TARGETS = frozenset(w for w in _CUE_WORDS | _MOVE_FILLER if len(w) >= 5 and w.isalpha())
_MISSING_ONE: dict[str, set[str]] = {}
for _word in _SLIP_TARGETS:
    for _i in range(len(_word)):
        _MISSING_ONE.setdefault(_word[:_i] + _word[_i + 1:], set()).add(_word)

# what a question about the memory asks with: "what do you remember", "what have you noted",
# "what did i rule out", "what's been excluded so far"
_MEMORY_WORDS = frozenset("""remember remembered know filters filter filtering constraints memory want
    searching looking asked said search think after summarise summarize summary active remind
    noted recorded tracking ruled excluded removed rejected banned blocked understood got liked
    disliked picked chose criteria criterion settings preferences applying using""".split())  # noqa: SIM905
# words said before a question's own first word ("wait, why …", "ok so what …")
_LEAD_WORDS = frozenset("""ok okay so wait hmm hm um uh oh ah well right alright hey erm actually
    sorry and but""".split())  # noqa: SIM905
# words that open a question without a question word ("explain 3", "tell me how 8 and 9 differ")
_ASKING = frozenset({"explain", "tell", "remind", "summarise", "summarize"})
# what a why-not question asks about is missing: "why no…", "where did the … go"
_ABSENT = frozenset({"no", "not", "none", "nothing", "any", "anything", "gone", "go", "went",
                     "disappeared", "disappear", "vanished", "vanish", "missing", "isnt", "arent",
                     "dont"})
# page cues too common to decide against a remark ("ooh these are lovely" is a remark)
_WEAK_PAGE = frozenset({"these", "those", "them", "not", "any", "anything", "something", "show",
                        "see", "seeing", "look", "looking", "try", "trying", "go", "on", "set",
                        "work", "working", "feeling", "match", "matches", "coming", "load",
                        "off", "bad", "lot"})


# A question about the search itself, whatever it asks ("how many pages are there", "why is it
# only showing dogs now", "am i still filtering out stripes"): it opens with words that never
# open a request, or asks for a recap ("could you remind me what filters i've set"). "what
# about", "how about", "is there", "do you have" open requests (_FRAMES) and are not here; the
# readers above take the questions they can answer precisely first.
_OPEN_QUESTION = re.compile(
    # "why not try black", "why don't you show me red ones" suggest, they do not ask
    rf"^(?:{_LEAD}\b{_W})*(?:why(?! not\b)(?! don'?t (?:you|we)\b)|how come|how (?:many|much|long|often|does|do|did|is|are|was|"
    r"were)|when (?:did|does|do|will|is|are|was|were)|where|am i|are we|are you|"
    r"(?:are|is) (?:these|this|those|they) \w+ \w+|"
    r"is \d{1,2} (?:a|an|the|really|actually|meant|supposed)|"
    r"did (?:you|it|that|i|we|this)|"
    r"does (?:it|this|that)|what (?:happened|happens|is going on|'?s going on|does|did|"
    r"do you|just happened)|(?:can|could|would|will) (?:you|u) (?:please )?(?:remind me|"
    r"summari[sz]e|recap|explain|tell me (?:what|why|how|which))|remind me|summari[sz]e|"
    r"recap)\b")


def _open_question(text: str) -> Understanding | None:
    """A question about the search (see above), or None. A question answered in the same turn
    ("how many dogs are there? two", as ChatIR's dialogues write them) is a description."""
    tidy = _tidy(_HEDGES.sub("", text))
    if not _OPEN_QUESTION.match(tidy) or re.search(r"\?\s*\S", text):
        return None
    asked = set(re.findall(r"[a-z']+", tidy))
    kind = "memory" if asked & _MEMORY_WORDS else "other"
    return Understanding(act="question", question=kind)


# How the speaker would feel about the result, never what it shows: "9 without the cars would
# be perfect", "in navy that'd be lovely"
_VERDICT_TAIL = re.compile(
    r"\s*\b(?:(?:it |that )?would|(?:it |that )?will|that'?d|it'?d) be (?:just )?(?:perfect|"
    r"great|ideal|lovely|nice|amazing|awesome|brilliant|fab|fantastic|wonderful|spot on)\b")


def strip_frames(text: str) -> str:
    """A request without its question/politeness frame and hedges: "do you have any red
    ones?" -> "red ones?", "kinda like 6 i guess, but darker" -> "like 6, but darker". A frame
    is removed only at the start of a clause; a hedge anywhere (it qualifies the speaker, not
    the thing, and in the way it hides a reference: "like 6 i guess, but")."""
    text = _VERDICT_TAIL.sub("", _HEDGES.sub("", text.replace("\u2019", "'")))
    parts = re.split(r"([,;.!?]\s*|\bbut\b\s*)", text)
    return "".join(_FRAMES.sub("", part, count=1) for part in parts)


def _on_screen(move: Understanding, shown: int) -> Understanding:
    """The move with its ranks checked against the page and "the last one" (-1) resolved."""
    for rank in (move.found, move.about, move.other):
        if rank is not None and rank != -1 and not 1 <= rank <= shown:
            raise UnknownReference(rank, shown)
    last = shown or 1  # "the last one"
    return replace(move, found=last if move.found == -1 else move.found,
                   about=last if move.about == -1 else move.about,
                   other=last if move.other == -1 else move.other)


def understand(text: str, shown: int) -> Understanding:
    """The act of a turn; for a refinement also its references and the text to decompose.

    Raises interpret.UnknownReference when the turn points at a rank that is not shown."""
    negative = negative_reference(text)  # the move readers would take "#-1" for "#1"
    if negative is not None:
        raise UnknownReference(negative, shown)
    move = move_of(text)
    if move is None:
        move = _move_by_cues(text)
        if move is None or move.act != "question":  # a question about the search is one,
            move = _open_question(text) or move      # whatever cues it holds ("how does it")
    if move is not None:
        return _on_screen(move, shown)
    clauses = [c for c in re.split(r"(?<=[,;.!?])\s+", text.strip()) if c.strip(" ,;.!?")]
    moves = [move_of(clause) for clause in clauses]
    # "10!! that's my dress", "yes that's the one, the 4th": a found move names its rank in
    # a clause of its own
    picks = [_RANK_ALONE.fullmatch(_peel(_tidy(c))) if m is None else None
             for c, m in zip(clauses, moves)]
    if (len(clauses) > 1 and all(m is not None or p for m, p in zip(moves, picks))
            and sum(bool(p) for p in picks) == 1
            and {m.act for m in moves if m is not None and m.act != "chat"} == {"found"}):
        rank = _rank_of(next(p.group() for p in picks if p))
        return _on_screen(Understanding(act="found", found=rank), shown)
    # Several clauses that are all moves ("none of these, show me others", "perfect, 1 is
    # it"): the one that does something wins over remarks around it.
    if len(clauses) > 1 and all(m is not None for m in moves):
        acting = [i for i, m in enumerate(moves) if m.act != "chat"]
        if acting and len({moves[i].act for i in acting}) == 1:
            # the clause that names a rank says which ("there she is! 2 is the one")
            named = [i for i in acting if _RANK_VALUE.search(_tidy(clauses[i]))]
            return understand(clauses[(named or acting)[0]], shown)
    # A move said as one clause of a request ("none of these, I want blue", "thanks! now in
    # red") is dropped from the request; a page turned down is still remembered.
    kept = [c for c, m in zip(clauses, moves) if m is None or m.act not in ("page", "chat")]
    turn: Turn = interpret(strip_frames(unabbreviated(" ".join(kept) if kept else text)), shown)
    return Understanding(act="refine", text=turn.text, liked=turn.liked,
                         disliked=turn.disliked, reference=turn.reference, reset=turn.reset,
                         page=any(m is not None and m.act == "page"
                                  and not _HEDGE_ONLY.fullmatch(_peel(_tidy(c)))
                                  for c, m in zip(clauses, moves)))
