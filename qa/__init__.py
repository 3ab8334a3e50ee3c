"""qa: extractive question answering over a folder of documents, with exact citations.

The facade is :class:`qa.pipeline.Pipeline`; settings are :class:`qa.config.Settings`.
"""

from ._imports import install as _install_import_hook

__version__ = "0.1.0"

_install_import_hook()  # bm25s without numba, scipy and tqdm, which qa does not use: seconds of a cold start

__all__ = ["__version__"]
