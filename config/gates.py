"""The text gate: where members' free text is checked before anything is stored.

Generation (prompts) and portraits (titles, descriptions, tags) call
``text_gate_check``; moderation, which they may not import, registers the check itself
(``moderation.gate.text_gate``, in its AppConfig.ready). Without a registered gate every
text passes.

A gate either refuses (raises ``TextRefused``: field errors naming each field and quoting
only the member's own words that matched, never the list), or says the text passes but
needs a moderator's review (True), or lets it pass (False).

The refusal is counted as it is raised (moderators see how often each entry refused),
which writes to the database: a caller that runs the gate inside a transaction block
must not roll that block back for the refusal, or the count goes with it. Wrap such a
block in ``atomic_keeping_refusals`` instead of ``transaction.atomic``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from django.db import transaction

from config.errors import DomainError

TextGate = Callable[..., bool]  # gate(fields: Mapping[str, str], *, user) -> bool

_gates: list[TextGate] = []


class TextRefused(DomainError):
    """Free text the site does not accept (a blocklist entry matched it)."""

    code = "text_refused"


def text_gate_register(gate: TextGate) -> None:
    """Add ``gate`` (registering the same function twice keeps one)."""
    if gate not in _gates:
        _gates.append(gate)


def text_gate_check(fields: Mapping[str, str], *, user) -> bool:
    """Check ``fields`` (field name → the member's text) written by ``user``.

    Returns True when the text may go ahead but must be reviewed by a moderator before
    it is shown to anyone (what it makes is held), False when it simply passes. Raises
    ``TextRefused`` when it is refused; nothing may be stored then.
    """
    texts = {name: text for name, text in fields.items() if text}
    if not texts:
        return False
    review = False
    for gate in list(_gates):
        review = gate(texts, user=user) or review
    return review


@contextmanager
def atomic_keeping_refusals() -> Iterator[None]:
    """``transaction.atomic()``, except that a ``TextRefused`` leaving the block commits
    it first (then propagates): the gate's count of the refusal stays.

    Only for a block whose other writes before the gate ran may stay too (a lock taken,
    an expired row deleted); whatever runs after the gate refused never ran. Any other
    exception rolls the block back as usual.
    """
    refused: TextRefused | None = None
    with transaction.atomic():
        try:
            yield
        except TextRefused as exc:
            refused = exc
    if refused is not None:
        raise refused
