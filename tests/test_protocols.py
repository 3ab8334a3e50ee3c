"""The declared seams: the embedders and readers, real and fake, have what the pipeline calls."""

from __future__ import annotations

import inspect

import pytest
from conftest import FakeEmbedder

from qa.config import Settings
from qa.index.embedding import SentenceTransformerEmbedder
from qa.pipeline import Pipeline
from qa.protocols import Embedder, Reader
from qa.reader import SpanReader
from qa.reader.passage import PassageReader
from qa.reader.sentence import TrainedReader


def test_the_fake_embedder_is_an_embedder():
    assert isinstance(FakeEmbedder(), Embedder)


def test_the_real_embedder_is_an_embedder_without_loading_its_model():
    assert isinstance(SentenceTransformerEmbedder(backend="torch"), Embedder)


@pytest.mark.parametrize("make", [SpanReader, PassageReader, TrainedReader])
def test_every_reader_is_a_reader_without_loading_its_model(make):
    reader = make(Settings())
    assert isinstance(reader, Reader)
    assert reader._model is None if hasattr(reader, "_model") else True


def test_an_object_without_read_is_not_a_reader():
    class Half:
        pool, needs_vector, threshold, answer_threshold = 5, False, 0.1, 0.5

        def warm_up(self, data, embedder):
            pass

    assert not isinstance(Half(), Reader)
    assert not isinstance(object(), Embedder)


def test_the_pipeline_is_typed_with_the_protocols():
    hints = inspect.get_annotations(Pipeline.__init__, eval_str=True)
    assert hints["embedder"] == Embedder | None and hints["reader"] == Reader | None


def test_the_model_readers_expose_their_model_publicly():
    for cls in (PassageReader, TrainedReader):
        assert isinstance(inspect.getattr_static(cls, "model"), property)
        assert not hasattr(cls, "_load")
