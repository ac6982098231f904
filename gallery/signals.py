"""What happens in the community that other parts of the gallery may want to hear.

Sent inside the transaction that made it happen, and only when something changed (a
repeated like or follow sends nothing): a receiver that writes (``gallery.notify``'s
notifications) writes in the same transaction, and pushes anything live after commit.
"""

from django.dispatch import Signal

# A member liked a portrait (a new ``Like`` row). Arguments: ``like``.
portrait_liked = Signal()

# A member followed another (a new ``Follow`` row). Arguments: ``follow``.
member_followed = Signal()
