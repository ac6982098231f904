"""What happens to portraits that apps to the right of portraits may want to hear.

Sent inside the transaction that made it happen: a receiver that writes (the gallery's
notifications) writes in it too, and pushes anything live after commit.
"""

from django.dispatch import Signal

# A portrait became public for the first time (``published_at`` was just set).
# Arguments: ``portrait``.
portrait_published = Signal()
