"""The package's layers: every import inside ``minigrad/`` points down (or sideways), never up.

    kernels, rng, metrics, datasets, diagrams  <-  function  <-  ops, fused_ops  <-  tensor
    <-  nn, losses, optim, gradcheck  <-  deepfm  <-  federated  <-  privacy  <-  recipes
    <-  engines  <-  bench

Imports inside functions count too: a lazy import is still an arrow. Nothing in the package
imports the teacher's tools (``teaching/``), which hold no part of the library.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minigrad"

# the lowest layer first; a module's layer is that of the longest prefix it matches
LAYERS = [
    ["minigrad.kernels", "minigrad.rng", "minigrad.metrics", "minigrad.results",
     "minigrad.datasets", "minigrad.diagrams"],
    ["minigrad.function"],
    ["minigrad.ops", "minigrad.fused_ops"],
    ["minigrad.tensor"],
    ["minigrad.nn", "minigrad.losses", "minigrad.optim", "minigrad.gradcheck"],
    ["minigrad.deepfm"],
    ["minigrad.federated"],
    ["minigrad.privacy"],
    ["minigrad.recipes"],
    ["minigrad.engines"],
    ["minigrad.bench"],
    ["minigrad"],  # the package's own __init__: re-exports from any layer
]


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name):
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    return None if best is None else best[0]


def imports_of(path, name=None):
    """The minigrad modules ``path`` (module ``name``) imports, absolute, with line numbers."""
    name = module_name(path) if name is None else name
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                root = ".".join(base + ([node.module] if node.module else []))
            else:
                root = node.module or ""
            # `from . import kernels` imports minigrad.kernels, not the package's __init__
            targets = [] if root == "minigrad" else [root]
            targets += [f"{root}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "minigrad" or target.startswith("minigrad."):
                yield target, node.lineno


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert [module_name(p) for p in MODULES if layer_of(module_name(p)) is None] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    source = module_name(path)
    up = []
    for target, line in imports_of(path):
        level = layer_of(target)
        if level is not None and level > layer_of(source):
            up.append(f"{path.name}:{line} imports {target} (layer {level} > {layer_of(source)})")
    assert up == []


def test_the_check_sees_upward_imports_lazy_and_relative(tmp_path):
    fake = tmp_path / "ops.py"
    fake.write_text("from . import kernels\n\n\ndef f():\n    from .federated import round\n")

    found = list(imports_of(fake, "minigrad.ops"))

    assert found == [("minigrad.kernels", 1), ("minigrad.federated", 5),
                     ("minigrad.federated.round", 5)]
    assert layer_of("minigrad.federated.round") > layer_of("minigrad.ops")


def test_the_package_never_imports_the_teachers_tools():
    found = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}:{node.lineno}" for n in names
                      if n == "teaching" or n.startswith("teaching.")]
    assert found == []
