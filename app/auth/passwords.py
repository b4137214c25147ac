"""What makes a password acceptable, in one place: registration, a password change and the
`create-admin` command all ask `weakness()`.

Length alone let `aaaaaaaaaa` and `1234567890` through. zxcvbn estimates how many guesses a
password takes against what attackers try first: common passwords, dictionary words, names,
repeats, sequences, keyboard walks and dates, and the words of the account itself (its email
and name), so `alice@example.com1` is as weak as it looks.
"""

import re
from collections.abc import Iterable

from zxcvbn import zxcvbn

MIN_SCORE = 3
"""zxcvbn's scale: 3 is "safely unguessable" (about 10^8 guesses or more, a good hour of
online guessing per account even without the lockout, out of reach of a throttled one); 2
still admits names followed by a year."""

ZXCVBN_MAX_LENGTH = 72
"""zxcvbn refuses longer input (its matching grows faster than the length). A password whose
first 72 characters are strong is strong, so only those are judged."""

_WORD_SEPARATORS = re.compile(r"[\W_]+")


def _account_words(user_inputs: Iterable[str | None]) -> list[str]:
    """Each input whole and in its words: `ada.lovelace@example.com` gives `ada`,
    `lovelace` and `example` too, since a password built from one of them is guessed from
    the account."""
    words: dict[str, None] = {}  # ordered: zxcvbn ranks earlier inputs as likelier
    for text in user_inputs:
        if text:
            words[text.lower()] = None
            words.update(
                (part.lower(), None) for part in _WORD_SEPARATORS.split(text) if len(part) > 2
            )
    return list(words)


def weakness(password: str, *, user_inputs: Iterable[str | None]) -> str | None:
    """Why `password` is too easy to guess, in words for its owner; None when it is not.

    Runs in the caller's thread (a few to ~50 ms): zxcvbn keeps the account's words in a
    module-level dictionary while it scores, so two calls must not overlap in threads."""
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=_account_words(user_inputs))
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    advice = [feedback["warning"], *feedback["suggestions"]]
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        advice.insert(0, "It uses your email address or name.")
    reason = " ".join(text for text in advice if text)
    return f"this password is too easy to guess. {reason}".strip()
