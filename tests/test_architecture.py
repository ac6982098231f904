"""The direction of imports, walked with ``ast`` (README "Architecture", issue 8).

Every module of the project's packages is parsed, never imported, and every import is
read: at the top, inside functions, and under ``if TYPE_CHECKING``. Four rules:

1. A domain module (models, services, selectors, tasks, events, consumers, inference,
   presenters, recipe, lineage, credentials… — everything but the API, pages, admin,
   forms, management commands, migrations, template tags and config's wiring) imports
   no API module (``<app>.api``, ``config.api``) and nothing of ``rest_framework``
   or ``drf_spectacular``: the API depends on the domain, never the other way.
2. An app imports only apps to its left: ``config ← accounts ← portraits ← generation
   ← gallery``. What must run the other way is a call from the right, or a function
   the left app offers. Only config's composition root (``COMPOSITION_ROOT``) mounts
   the apps.
3. No import of a project module inside a function, but for the lazy ones listed in
   ``LAZY_ALLOWED`` with their reason: an import inside a function is how a circle is
   dodged, and a newcomer reading top to bottom should never meet one. (Third-party
   imports are not project modules: torch and diffusers stay inside inference's
   functions, where the torch boundary test wants them.)
4. No cycle between the apps' services.

A failure names each offending import as ``file:line``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Left to right: an app may import the apps to its left, never to its right.
APPS = ("config", "accounts", "portraits", "generation", "gallery", "moderation")
RANK = {app: rank for rank, app in enumerate(APPS)}

# config's wiring: the one place that knows every app, so it may import any of them.
COMPOSITION_ROOT = {
    "config.urls": "mounts every app's pages and the API's documentation views",
    "config.api.urls": "mounts every app's API routes under /api/v1/",
    "config.asgi": "routes every app's WebSockets and starts the embedded worker",
    "config.worker": (
        "the embedded default's worker thread runs every app's tasks, and its sweeper "
        "thread stands in for beat (generation's job sweep, moderation's expired suspensions)"
    ),
    "config.celery": "the Celery app discovers every app's tasks",
    "config.wsgi": "the WSGI entry point, like asgi",
    "config.settings": "lists the installed apps",
}

# Modules whose function-level imports of project modules are not dodging a circle, and why.
_APP_CONFIG = (
    "an AppConfig module is imported while the app registry is being built, before any "
    "model exists: what its ready() wires up (signal receivers, checks) is imported in "
    "the functions that run after (Django's documented pattern)"
)
LAZY_ALLOWED: dict[str, str] = {f"{app}.apps": _APP_CONFIG for app in APPS}

API_PACKAGES = ("rest_framework", "drf_spectacular")
# Modules that are the API, pages, admin or wiring rather than the domain (by last part).
NON_DOMAIN_NAMES = {"views", "urls", "admin", "forms"}


@dataclass(frozen=True)
class Import:
    importer: str  # the dotted module that imports
    path: Path
    line: int
    target: str  # the dotted module imported
    function: str | None  # the enclosing function's name, None at module level
    type_checking: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_files() -> dict[str, Path]:
    files = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            files[_module_name(path)] = path
    return files


FILES = _project_files()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """The dotted modules an ``ImportFrom`` reads: ``from portraits import services`` reads
    ``portraits.services`` (a module), ``from portraits.models import Portrait`` reads
    ``portraits.models``."""
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    targets = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        target = candidate if candidate in FILES else base
        if target not in targets:
            targets.append(target)
    return targets


def _imports_of(module: str, path: Path) -> list[Import]:
    found: list[Import] = []

    def walk(node: ast.AST, function: str | None, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner_function = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner_function = function or child.name
            elif isinstance(child, ast.Lambda):
                inner_function = function or "<lambda>"
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(
                        Import(module, path, child.lineno, alias.name, function, type_checking)
                    )
            elif isinstance(child, ast.ImportFrom):
                for target in _resolve(module, path, child):
                    found.append(
                        Import(module, path, child.lineno, target, function, type_checking)
                    )
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:
                    walk_one(statement, inner_function, True)
                for statement in child.orelse:
                    walk_one(statement, inner_function, type_checking)
                continue
            walk(child, inner_function, type_checking)

    def walk_one(statement: ast.stmt, function: str | None, type_checking: bool) -> None:
        wrapper = ast.Module(body=[statement], type_ignores=[])
        walk(wrapper, function, type_checking)

    walk(ast.parse(path.read_text(), filename=str(path)), None, False)
    return [found_import for found_import in found if found_import.target != "__future__"]


IMPORTS = [found for module, path in FILES.items() for found in _imports_of(module, path)]


def _app(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in RANK else None


def _is_api(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in API_PACKAGES or (parts[0] in RANK and "api" in parts[1:])


def is_domain(module: str) -> bool:
    """Everything but the API, pages (``views``, or a ``views`` package's modules), admin,
    forms, management commands, migrations, template tags and config's composition root."""
    parts = module.split(".")
    if module in COMPOSITION_ROOT or _is_api(module):
        return False
    if {"management", "migrations", "templatetags"} & set(parts):
        return False
    return not NON_DOMAIN_NAMES & set(parts[1:])


def _report(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n  " + "\n  ".join(lines)


def test_domain_modules_import_no_api_module_nor_rest_framework():
    violations = [
        f"{found.where}: {found.importer} (domain) imports {found.target}"
        for found in IMPORTS
        if is_domain(found.importer) and _is_api(found.target)
    ]
    assert not violations, _report(
        "Domain modules importing the API (move the code into api/, or a presenter)", violations
    )


def test_apps_import_only_apps_to_their_left():
    violations = []
    for found in IMPORTS:
        source, target = _app(found.importer), _app(found.target)
        if source is None or target is None or found.importer in COMPOSITION_ROOT:
            continue
        if RANK[target] > RANK[source]:
            violations.append(
                f"{found.where}: {found.importer} imports {found.target} "
                f"({source} may import only {', '.join(APPS[: RANK[source]]) or 'nothing'})"
            )
    assert not violations, _report(
        "Imports against " + " ← ".join(APPS) + " (call from the right instead)", violations
    )


def test_no_project_import_hides_inside_a_function():
    violations = []
    for found in IMPORTS:
        if found.function is None or _app(found.target) is None:
            continue
        if found.importer in LAZY_ALLOWED:
            continue
        violations.append(
            f"{found.where}: {found.importer} imports {found.target} inside {found.function}()"
        )
    assert not violations, _report(
        "Imports inside functions (import at the top; a circle they dodge is a layering fault)",
        violations,
    )


def _services_app(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] in RANK and parts[1] == "services":
        return parts[0]
    return None


def test_no_cycle_between_the_apps_services():
    edges: dict[str, dict[str, Import]] = {}
    for found in IMPORTS:
        source, target = _services_app(found.importer), _services_app(found.target)
        if source and target and source != target:
            edges.setdefault(source, {}).setdefault(target, found)

    cycles = []

    def visit(app: str, trail: list[str]) -> None:
        for target in edges.get(app, {}):
            if target in trail:
                cycle = [*trail[trail.index(target) :], target]
                hops = [edges[a][b].where for a, b in zip(cycle, cycle[1:], strict=False)]
                cycles.append(" → ".join(cycle) + " (" + ", ".join(hops) + ")")
            else:
                visit(target, [*trail, target])

    for app in sorted(edges):
        visit(app, [app])
    assert not cycles, _report("Cycles between the apps' services", sorted(set(cycles)))


# --- The walker itself ---------------------------------------------------------------------


def test_the_walker_sees_imports_in_functions_and_under_type_checking(tmp_path):
    """The rules above are only as good as the walk: it must see every kind of import."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from generation.api.serializers import JobSerializer\n"
        "def f():\n"
        "    from gallery import views\n"
        "    async def g():\n"
        "        import rest_framework.views\n"
        "from . import services\n"
    )
    found = {
        (i.target, i.function, i.type_checking)
        for i in _imports_of("generation.probe", probe)
        if i.target != "typing"
    }
    assert found == {
        ("generation.api.serializers", None, True),
        ("gallery.views", "f", False),
        ("rest_framework.views", "f", False),
        ("generation.services", None, False),
    }
