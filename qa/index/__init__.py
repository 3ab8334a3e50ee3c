"""The index: passages embedded and stored, searchable by vectors and by words.

- :mod:`.embedding`: the question and passage encoders (all-MiniLM-L6-v2, ONNX or torch); sentence
  vectors pooled from the passages' forward pass.
- :mod:`.vectors`: FAISS (exact or HNSW) or Qdrant; :mod:`.lexical`: BM25 (bm25s).
- :mod:`.store`: the persisted index, a list of immutable segments named by a manifest, updated with
  what changed; it uses :mod:`.manifest` (what the index holds, whether it can be used),
  :mod:`.segments` (writing, verifying and loading one segment, removing those no manifest names),
  :mod:`.loaded` (the segments presented as one :class:`~.loaded.IndexData`) and :mod:`.locks` (the
  writer lock, disk-full and read-only errors).
- :mod:`.indexer`: updating the index with only what changed; :mod:`.embed_ahead`: what is embedded for
  a document, and embedding new documents while the rest of the folder is read.
- :mod:`.spelling`: correcting question words against the index's own vocabulary (it needs the BM25
  index to tell which words are unknown, and the indexed documents' words as candidates).

Nothing is imported here, so that each module costs only its own imports.
"""
