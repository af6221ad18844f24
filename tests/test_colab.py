"""Run every notebook in colab/ in its small mode: code cells in order, shell/magic lines skipped."""

import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "colab").glob("*.ipynb"))


def code_of(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            lines = [line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!"))]
            yield "\n".join(lines)


def test_there_are_notebooks():
    assert NOTEBOOKS, "colab/ has no notebooks"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_small_mode(notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("TFAR_NOTEBOOK_SMALL", "1")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__notebook__"}
    for index, source in enumerate(code_of(notebook)):
        exec(compile(source, f"{notebook.name}[cell {index}]", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "samples.png").stat().st_size > 0
    assert (tmp_path / "completions.png").stat().st_size > 0
    assert 0 < namespace["test_bpd"] < 8
