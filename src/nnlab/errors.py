"""The one exception type of nnlab's library: the ``nnlab`` command prints its message on one line."""


class NnlabError(Exception):
    """Something the user can fix (missing data, a broken course folder, a corrupt file); the message
    says what is wrong and where."""
