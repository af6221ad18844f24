"""tfar.export.saved_model / tfar.export.onnx are the exporting functions (the public contract) and
shadow no module: the code lives in tfar.export.saved_model_signatures and tfar.export.onnx_graphs."""

import importlib
import inspect
import types

import pytest

import tfar.export

MODULES = {"saved_model": "tfar.export.saved_model_signatures", "onnx": "tfar.export.onnx_graphs"}


@pytest.mark.parametrize("function, module", MODULES.items())
def test_exporters_are_functions_and_their_modules_import_as_modules(function, module):
    imported = importlib.import_module(module)
    assert isinstance(imported, types.ModuleType) and imported.__name__ == module
    exporter = getattr(tfar.export, function)
    assert callable(exporter) and inspect.isfunction(exporter)
    assert exporter is getattr(imported, function)
    assert function in tfar.export.__all__


@pytest.mark.parametrize("function", MODULES)
def test_no_module_shadowed_by_its_function(function):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"tfar.export.{function}")
    assert isinstance(getattr(tfar.export, function), types.FunctionType)  # still the function afterwards
