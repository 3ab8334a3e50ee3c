"""The index: passages embedded and stored, searchable by vectors and by words.

- :mod:`.embedding`: the question and passage encoders (all-MiniLM-L6-v2, ONNX or torch).
- :mod:`.vectors`: FAISS (exact or HNSW) or Qdrant; :mod:`.lexical`: BM25 (bm25s).
- :mod:`.store`: the crash-safe generation folder and its manifest.
- :mod:`.indexer`: updating the index with only what changed.
- :mod:`.spelling`: correcting question words against the index's own vocabulary (it needs the BM25
  index to tell which words are unknown, and the indexed documents' words as candidates).

Nothing is imported here, so that each module costs only its own imports.
"""
