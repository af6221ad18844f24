"""The Colab notebooks are stored clean and install tfar first; each runs end to end in its small mode
in its own test file (tests/test_colab_images.py, tests/test_colab_audio.py; helpers in
tests/colab_notebooks.py), so the two long runs can go to the two xdist workers."""

import nbformat
import pytest

from colab_notebooks import COLAB, NOTEBOOKS, read  # tests/colab_notebooks.py (tests/ is on sys.path)


def test_the_notebooks_are_the_ones_the_tests_run():
    assert sorted(p.name for p in COLAB.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_without_outputs_and_install_tfar_first(name):
    notebook = read(name)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), f"{name}: clear the outputs"
    install = code[0].source
    assert "pip_install(" in install and "find_checkout(" in install and "TFAR_SOURCE" in install
    assert notebook.metadata.kernelspec.name == "python3"
