"""qa: extractive question answering over a folder of documents, with exact citations.

The facade is :class:`qa.pipeline.Pipeline`; settings are :class:`qa.config.Settings`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
