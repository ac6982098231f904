"""The gallery's pages, by what they are about: browsing (``browse``), members, likes and
follows (``social``) and notifications (``notifications``)."""
