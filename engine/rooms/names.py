"""Room codes, teacher tokens, student ids and the anonymous names students go by.

A code is read off a projector and typed on a phone: 6 characters from an alphabet without look-alikes (no 0/O,
1/I/L, 2/Z, 5/S, 8/B), 24^6 ≈ 191 million codes. It is public (the join link holds it): what guards a room is the
teacher token (secrets.token_urlsafe, 192 bits), which only the teacher's session holds. Student ids are as long:
a student cannot report as another one."""

from __future__ import annotations

import random
import secrets

CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY3479"  # 24 symbols: none that reads as another
CODE_LENGTH = 6
COLOURS = ("Amber", "Azure", "Blue", "Bronze", "Coral", "Crimson", "Cyan", "Golden", "Green", "Grey", "Indigo",
           "Ivory", "Jade", "Lemon", "Lilac", "Lime", "Magenta", "Maroon", "Mint", "Navy", "Ochre", "Olive",
           "Orange", "Pearl", "Pink", "Plum", "Purple", "Red", "Rose", "Ruby", "Rust", "Sage", "Sand", "Scarlet",
           "Silver", "Sky", "Teal", "Violet", "White", "Yellow")
ANIMALS = ("Badger", "Beaver", "Bison", "Crane", "Dolphin", "Eagle", "Falcon", "Ferret", "Finch", "Fox", "Gecko",
           "Heron", "Ibex", "Jackal", "Koala", "Lemur", "Lynx", "Marten", "Moose", "Newt", "Ocelot", "Orca",
           "Otter", "Owl", "Panda", "Pelican", "Puffin", "Quail", "Raven", "Robin", "Salmon", "Seal", "Sparrow",
           "Stork", "Swan", "Tapir", "Tiger", "Toucan", "Walrus", "Wren")


def new_code(taken: set[str] | frozenset[str] = frozenset()) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def normalized_code(typed: str) -> str | None:
    """A code as typed ("acd 379", " ACD-379 ") in its canonical form, or None if it cannot be one."""
    code = "".join(typed.split()).replace("-", "").upper() if isinstance(typed, str) else ""
    return code if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code) else None


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_student_id() -> str:
    """As long as a teacher token (and drawn the same way): it is what lets a session report as this student."""
    return secrets.token_urlsafe(24)


def anonymous_name(taken: set[str], rng: random.Random) -> str:
    """A name not in `taken`: a random colour and animal while any of the 1,600 pairs is free, else one with a
    number after it."""
    free = len(COLOURS) * len(ANIMALS) - len(taken)
    if free > 0:
        for _ in range(64):  # a free pair is found at once while few are taken
            name = f"{rng.choice(COLOURS)} {rng.choice(ANIMALS)}"
            if name not in taken:
                return name
        return next(name for name in (f"{c} {a}" for c in COLOURS for a in ANIMALS) if name not in taken)
    number = 2
    while True:
        name = f"{rng.choice(COLOURS)} {rng.choice(ANIMALS)} {number}"
        if name not in taken:
            return name
        number += 1
