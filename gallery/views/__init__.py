"""The gallery's pages, by what they are about: browsing (``browse``), members, likes and
follows (``social``), notifications (``notifications``) and the favicon (``site``)."""
