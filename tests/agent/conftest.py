"""Fixtures of the agent's tests: a small library of plain colour swatches and a tiny model."""

from __future__ import annotations

import pytest

from retrievers.encoders import ModelSpec
from retrievers.library import Library
from tests.conftest import make_image


@pytest.fixture
def small_library(rummage_home, tmp_path, tiny_model_dir):
    folder = tmp_path / "pics"
    for i in range(40):
        make_image(folder / f"{i:02d}.png", ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256))
    # the stories below are told in garment words, so the library reads the demo vocabulary
    library = Library.create(rummage_home, "pics",
                             ModelSpec.from_options(None, None, str(tiny_model_dir)),
                             vocabulary="demo")
    library.index_folder(folder)
    library.close()
    return "pics"
