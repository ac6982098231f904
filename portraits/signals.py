"""What happens to portraits that apps to the right of portraits may want to hear.

Sent inside the transaction that made it happen: a receiver that writes (the gallery's
notifications) writes in it too, and pushes anything live after commit.
"""

from django.dispatch import Signal

# A portrait became public for the first time (``published_at`` was just set).
# Arguments: ``portrait``.
portrait_published = Signal()

# Portraits were held for a moderator's review (``held_for_review`` set): the prompt gate
# (``config.gates``) let their text through for review, at their job's submission or at an
# edit. Arguments: ``portraits`` (a list).
portrait_held_for_review = Signal()

# A portrait is about to be deleted (its author's or a moderator's ``portrait_delete``),
# its row and recipe still readable. Arguments: ``portrait``, ``by``.
portrait_deleting = Signal()
