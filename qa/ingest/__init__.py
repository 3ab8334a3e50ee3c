"""Ingest: from a folder of files to documents, passages and sentences.

- :mod:`.formats`: text out of PDF and HTML (and the limits on what is read).
- :mod:`.documents`: the document folder, read into :class:`~qa.types.Document` records; :mod:`.titles`
  finds a title in the text.
- :mod:`.chunking`: passages (langchain's recursive splitter) and sentences (pysbd), with offsets.
- :mod:`.parsing`, :mod:`.parse_job`, :mod:`.worker`: reading and splitting in a worker process.
- :mod:`.collection`, :mod:`.links`, :mod:`.trash`: adding, linking, removing and restoring documents.

Nothing is imported here, so that each module costs only its own imports.
"""
