"""Runs the Colab notebooks under a real Jupyter kernel, for tests/test_colab*.py.

nbclient starts an ipykernel (this interpreter) in the notebook's own folder, as Jupyter
and Colab do, and runs every cell, ``!``/``%`` lines included; a failing cell or
assertion fails the test with the cell's traceback. The image and audio notebooks are
tested from two files, so that ``pytest -n 2 --dist loadfile`` runs them on both workers.
"""

import pathlib

import nbformat
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parent.parent
COLAB = REPO / "colab"
NOTEBOOKS = ("fine_tune_your_images.ipynb", "wavenet_your_recordings.ipynb")
CELL_TIMEOUT_S = 1800  # a generous bound per cell on a shared, busy CPU


def read(name):
    return nbformat.read(COLAB / name, as_version=4)


def run(name, workdir, monkeypatch):
    """The executed notebook (small mode, outputs written under ``workdir``)."""
    monkeypatch.setenv("TFAR_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("TFAR_NOTEBOOK_WORKDIR", str(workdir))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = read(name)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(COLAB)}})
    client.execute()
    return notebook


def outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def text_of(notebook):
    return "".join(o.get("text", "") for o in outputs(notebook) if o.output_type == "stream")


def check_install_cell(notebook):
    install = notebook.cells[[c.cell_type for c in notebook.cells].index("code")]
    printed = "".join(o.get("text", "") for o in install.outputs)
    assert f"tfar: the local checkout {REPO}" in printed, printed
