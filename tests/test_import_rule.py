"""The import rule of ../shared/DESIGN.md, read from the code (ast), not from a convention:

- no function-local import of our own code (app, search, workers), the CLI's commands aside;
- no import cycle between modules (imports under `if TYPE_CHECKING:` run never and count not);
- services import downward only: a package's rule modules import another package's rule
  modules only when that package sits lower in `LAYERS`; anyone may import another package's
  `queries`, `models`, `schemas` and the payment provider port, and those import nothing of
  another package but its interfaces and core.

Entry points sit above every package and may call any: routers, tasks, demo data, the app and
worker wiring (`ENTRY_POINTS`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("app", "search", "workers")

LAYERS = (
    "app.core",
    "app.accounts",
    "app.results",
    "app.payments",
    "app.deals",
    "app.auctions",
    "app.listings",
    "search",
    "app.demands",
    "app.challenges",
    "app.brokers",
    "app.tax",
    "app.webhooks",
    "app.stats",
    "app.sandbox",
    "app.audit",
    "app.integrations",
    "app.operations",
)
"""Packages from the lowest (everyone's) to the highest: the lifecycle runs listings → auctions
→ deals → payments; provider events enter above it all, in integrations."""

INTERFACES = ("queries", "models", "schemas", "provider", "taxonomy")
"""Modules any package may import: reads, tables, API shapes, the payment provider port, the
reference data of technology fields."""

ENTRY_POINTS = ("router", "tasks", "demo")
WIRING = ("app.main", "app.cli", "app.demo", "app.demo_history", "app.models", "workers")
LAZY_ALLOWED = ("app.cli",)
"""The CLI's commands import what they run when they run, so `techx --help` starts fast."""


@dataclass(frozen=True)
class Import:
    module: str
    line: int
    target: str
    local: bool
    type_only: bool


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for top in OURS:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, *([node.module] if node.module else [])])
        names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return [name for name in names if name in MODULES]


def _imports(module: str, path: Path) -> Iterator[Import]:
    def walk(node: ast.AST, local: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from walk(child, True, type_only)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from walk(child, local, True)
            elif isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(module, path, child):
                    if target != module:
                        yield Import(module, child.lineno, target, local, type_only)
            else:
                yield from walk(child, local, type_only)

    yield from walk(ast.parse(path.read_text(encoding="utf-8")), False, False)


IMPORTS = [found for module, path in MODULES.items() for found in _imports(module, path)]


def _package(module: str) -> str | None:
    return next(
        (layer for layer in LAYERS if module == layer or module.startswith(f"{layer}.")), None
    )


def _is_entry_point(module: str) -> bool:
    return module.startswith(WIRING) or module.rsplit(".", 1)[-1] in ENTRY_POINTS


def _is_interface(module: str) -> bool:
    return module.rsplit(".", 1)[-1] in INTERFACES


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_our_code_is_imported_at_the_top_of_a_module() -> None:
    local = [
        f"{found.module}:{found.line} imports {found.target}"
        for found in IMPORTS
        if found.local and found.module not in LAZY_ALLOWED
    ]
    assert local == []


def test_no_module_imports_itself_round_a_cycle() -> None:
    edges: dict[str, set[str]] = {module: set() for module in MODULES}
    for found in IMPORTS:
        if not found.local and not found.type_only:
            edges[found.module].add(found.target)
    assert _cycles(edges) == []


def test_services_import_downward_only() -> None:
    upward = []
    for found in IMPORTS:
        if found.type_only or _is_entry_point(found.module):
            continue
        source, target = _package(found.module), _package(found.target)
        if source is None or target is None or source == target:
            continue
        # `from app.deals import queries` names the package too; its __init__ holds no code.
        if _is_interface(found.target) or target in ("app.core", found.target):
            continue
        if _is_interface(found.module) or LAYERS.index(target) > LAYERS.index(source):
            upward.append(f"{found.module}:{found.line} imports {found.target}")
    assert upward == []


def test_the_rule_catches_what_it_forbids() -> None:
    """The rule's own pieces on known cases, so a test that finds nothing found nothing."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _is_entry_point("app.listings.router")
    assert _is_entry_point("workers.app")
    assert not _is_entry_point("app.listings.service")
    assert _is_interface("app.deals.queries")
    assert not _is_interface("app.deals.service")
    assert LAYERS.index("app.listings") > LAYERS.index("app.payments")
    assert _package("app.payments.stripe_provider") == "app.payments"
    assert _package("search.service") == "search"
