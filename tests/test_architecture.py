"""The package's layers import one way, and no module imports itself back through others.

    arg_checks -> data, visualize -> layers -> distributions -> sampling -> models -> zoo
      -> evaluation -> training | export | testing -> cli -> demo

Every ``import tfar.x`` / ``from tfar.x import y`` counts, at module level or inside a
function (a lazy import still ties the two modules together). See ARCHITECTURE.md.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tfar"
LEVELS = {
    "arg_checks": 0, "data": 1, "visualize": 1, "layers": 2, "distributions": 3, "sampling": 4, "models": 5,
    "zoo": 6, "evaluation": 7, "training": 8, "export": 8, "testing": 8, "cli": 9, "demo": 10,
}


def module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tfar_imports(path):
    """Names of the tfar modules a file imports (``from tfar.x import y`` counts as tfar.x.y when that is a module)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tfar")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base == "tfar" or base.startswith("tfar."):
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return found - {"tfar"}


def top(name):
    return name.split(".")[1] if name.count(".") else ""


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}
GRAPH = {name: tfar_imports(path) for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if top(n) in LEVELS))
def test_no_module_imports_a_layer_above_or_beside_it(name):
    here = LEVELS[top(name)]
    for imported in sorted(GRAPH[name]):
        there = top(imported)
        if there == top(name) or there == "":
            continue
        assert there in LEVELS, f"{name} imports {imported}, whose layer is not listed"
        assert LEVELS[there] < here, f"{name} (layer {top(name)}) imports {imported} (layer {there})"


def test_every_subpackage_has_a_layer():
    assert {top(n) for n in MODULES if top(n)} <= set(LEVELS) | {"__main__"}


def test_there_is_no_import_cycle():
    state = {}

    def visit(name, path):
        state[name] = "open"
        for child in sorted(GRAPH[name]):
            if child == name:
                continue
            if state.get(child) == "open":
                raise AssertionError("import cycle: " + " -> ".join([*path, name, child]))
            if child not in state:
                visit(child, [*path, name])
        state[name] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [])


def test_the_checks_can_fail():
    """A planted upward import and a planted cycle are found."""
    saved = {name: set(imports) for name, imports in GRAPH.items()}
    GRAPH["tfar.layers.masked_conv2d"].add("tfar.models.base")
    try:
        with pytest.raises(AssertionError, match="imports tfar.models.base"):
            test_no_module_imports_a_layer_above_or_beside_it("tfar.layers.masked_conv2d")
        GRAPH["tfar.models.base"].add("tfar.layers.masked_conv2d")
        with pytest.raises(AssertionError, match="import cycle"):
            test_there_is_no_import_cycle()
    finally:
        GRAPH.update(saved)
