"""The layout rules of docs/DESIGN.md §2, checked on the source tree.

Every module has a docstring (one over 400 lines is a warning: does it hold two concepts?); no
module imports another module's private names or reaches into another module's (or library's)
private attributes; the modules of the package, and its packages, import each other without a
cycle (imports inside functions count, since they are cycles deferred, not removed); only the
entry points import the command line.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "neurognocchi"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> list[tuple[str, str | None]]:
    """(module, imported name or None) for every import of the package in module ``name``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found += [(target, alias.name) for alias in node.names]
    return [(module, item) for module, item in found if module.split(".")[0] == "neurognocchi"]


def _edges(name: str) -> set[str]:
    edges = set()
    for module, item in _imports(name):
        if item is not None and f"{module}.{item}" in MODULES:
            edges.add(f"{module}.{item}")  # `from package import submodule`
        elif module in MODULES:
            edges.add(module)
    edges.discard(name)
    return edges


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_has_a_docstring_and_a_size_worth_a_look_is_flagged(name):
    """Long modules are a warning, not a failure: split a module when it holds two
    concepts, not to meet a number (a hard cap made lines be packed by hand)."""
    source = MODULES[name].read_text()
    assert ast.get_docstring(ast.parse(source)), f"{name} has no module docstring"
    if len(source.splitlines()) > MAX_LINES:
        warnings.warn(
            f"{name} has {len(source.splitlines())} lines (> {MAX_LINES}): does it hold two "
            "concepts?",
            UserWarning,
            stacklevel=1,
        )


def test_no_module_imports_another_modules_private_names():
    leaks = [
        f"{name} imports {item} from {module}"
        for name in MODULES
        for module, item in _imports(name)
        if item and item.startswith("_") and not item.startswith("__") and module != name
    ]
    assert leaks == []


# Underscored names that are public APIs: a namedtuple's methods, scipy's mat_struct fields.
PUBLIC_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make", "_fieldnames"}


def _defined_names(tree: ast.AST) -> set[str]:
    """Names a module defines: functions, classes, assigned names and attributes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def _private_attribute_uses(source: str) -> list[str]:
    """``x._name`` where ``x`` is not ``self``, ``cls`` or ``super()`` and ``_name`` is not
    defined in the same module: reaching into another module's (or library's) internals."""
    tree = ast.parse(source)
    own = _defined_names(tree) | PUBLIC_UNDERSCORED
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
            continue
        value = node.value
        if node.attr.startswith("__") or node.attr in own:
            continue
        if isinstance(value, ast.Name) and value.id in ("self", "cls"):
            continue
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "super":
            continue
        found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_reaches_into_another_modules_private_attributes():
    leaks = {
        name: uses
        for name in MODULES
        if (uses := _private_attribute_uses(MODULES[name].read_text()))
    }
    assert leaks == {}


def test_the_private_attribute_check_finds_a_leak():
    source = "import optuna\nclass A:\n    _mine = 1\ndef f(study, a):\n    a._mine\n"
    assert _private_attribute_uses(source + "    return study._storage\n") == [
        "line 6: study._storage"
    ]
    assert _private_attribute_uses(source) == []


def test_the_public_surface_is_the_estimators_and_trials():
    import neurognocchi
    import neurognocchi.estimators as estimators

    assert sorted(neurognocchi.__all__) == sorted([*estimators.__all__, "Trials"])
    for name in estimators.__all__:
        for method in ("fit", "encode", "save", "load", "get_params"):
            assert callable(getattr(getattr(estimators, name), method)), (name, method)


def test_no_import_cycle():
    assert _cycles({name: _edges(name) for name in MODULES}) == []


def _package(name: str) -> str:
    """``neurognocchi.<first part>``: the package (or top-level module) ``name`` belongs to."""
    return ".".join(name.split(".")[:2])


def test_no_import_cycle_between_packages():
    """Packages are layers: e.g. ``study`` may import ``runs`` and ``cli`` both, but ``runs``
    imports neither and nothing but the entry points imports ``cli``."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        graph.setdefault(_package(name), set()).update(
            _package(edge) for edge in _edges(name) if _package(edge) != _package(name)
        )
    assert _cycles(graph) == []
    importers = {
        _package(name)
        for name in MODULES
        if any(_package(e) == "neurognocchi.cli" for e in _edges(name))
    }
    assert importers <= {"neurognocchi.cli", "neurognocchi.__main__"}


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_design_doc_lists_every_module():
    design = (PACKAGE.parents[1] / "docs" / "DESIGN.md").read_text()
    layout = design.split("## 2. Layout", 1)[1].split("## 3.", 1)[0]
    missing = [
        name
        for name, path in MODULES.items()
        if path.name != "__init__.py" and path.name not in layout
    ]
    assert missing == []


def _protocol_members() -> set[str]:
    from neurognocchi.models import base

    members = set()
    for protocol in (
        base.TrialModel,
        base.DiffusionTrialModel,
        base.LatentDiffusionTrialModel,
        base.SequentialVAETrialModel,
    ):
        for klass in protocol.__mro__:
            members |= set(vars(klass)) | set(getattr(klass, "__annotations__", {}))
    return {name for name in members if not name.startswith("_")}


def test_estimators_reach_their_models_only_through_the_protocols():
    # `model_.x` in an estimator must be a member of a models.base protocol, or one of the
    # torch.nn.Module methods the protocol's docstring names (never `model_.config`).
    allowed = _protocol_members() | {"eval", "to", "state_dict", "load_state_dict"}
    used = {}
    for name, path in MODULES.items():
        if not name.startswith("neurognocchi.estimators."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "model_"
            ):
                used.setdefault(node.attr, set()).add(name)
    assert "config" not in used
    assert {attr: sorted(where) for attr, where in used.items() if attr not in allowed} == {}
    assert {"encode", "generate", "autoencoder", "heldout_neurons"} <= set(used)


def test_the_models_implement_their_protocols():
    from neurognocchi.models import base
    from neurognocchi.models.config import (
        GnocchiConfig,
        LatentGnocchiConfig,
        LfadsConfig,
        PoissonAutoencoderConfig,
    )
    from neurognocchi.models.gnocchi import GnocchiModel
    from neurognocchi.models.latent import LatentGnocchiModel
    from neurognocchi.models.lfads import LfadsModel

    latent = LatentGnocchiConfig(
        autoencoder=PoissonAutoencoderConfig(n_neurons=3, n_time=8, latent_dim=2),
        diffusion=GnocchiConfig(n_neurons=2, n_time=8, code_dim=2, channels=8),
    )
    assert isinstance(LatentGnocchiModel(latent), base.LatentDiffusionTrialModel)
    assert isinstance(GnocchiModel(GnocchiConfig(n_neurons=3, n_time=8)), base.DiffusionTrialModel)
    assert isinstance(LfadsModel(LfadsConfig(n_neurons=3, n_time=8)), base.SequentialVAETrialModel)
    assert not isinstance(LfadsModel(LfadsConfig(n_neurons=3, n_time=8)), base.DiffusionTrialModel)
