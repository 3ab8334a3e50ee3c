"""``python -m qa.train``: train and export the reader models (see :mod:`qa.reader.sentence_training`)."""

from .reader.sentence_training import main

if __name__ == "__main__":
    raise SystemExit(main())
