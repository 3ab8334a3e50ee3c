"""The few exceptions a user can cause. Each message says what to do next.

The CLI prints them as one line without a traceback; the app shows them in the page.
"""


class QAError(Exception):
    """Base class for errors caused by input, documents, settings or the index."""


class NoDocumentsError(QAError):
    """The document folder is missing, empty, or holds no readable document."""


class BadQuestionError(QAError):
    """The question is empty, too long, or has nothing to search for."""


class IndexProblem(QAError):
    """The index on disk is missing, damaged, locked, or does not match the settings."""


class IndexWriteError(IndexProblem):
    """The index cannot be written (disk full, read-only folder); the previous one still answers."""


class ModelError(QAError):
    """The embedding model cannot be loaded offline."""


class SettingsError(QAError):
    """A setting has a value the program cannot use (unknown mode, negative k, ...)."""
