"""The shape of the code: each app builds only on the apps below it, and none import in a circle.

Read from the source with `ast`, so an import tucked inside a function counts as much as one at
the top of a module. README.md, "How the code is organised", says why the apps sit in this order.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: an app may import the apps before it in this list, never those after it.
LAYERS = ["portal", "schools", "codes", "declarations", "sending", "evidence", "onboarding", "api", "webhooks", "demo"]
PRODUCT_APPS = LAYERS[1:-1]


def imported_apps(path: Path) -> set[str]:
    """The apps of this project that a module imports, anywhere in it (migrations excepted)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in LAYERS)
    return found


def modules(app: str):
    return [path for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts]


def app_imports() -> dict[str, dict[str, list[str]]]:
    """{app: {imported app: [modules that import it]}}."""
    graph = {}
    for app in LAYERS:
        for path in modules(app):
            for other in imported_apps(path) - {app}:
                graph.setdefault(app, {}).setdefault(other, []).append(str(path.relative_to(ROOT)))
    return graph


def test_every_app_imports_only_the_apps_below_it():
    upward = [
        f"{module} ({app}) imports {other}"
        for app, targets in app_imports().items()
        for other, importers in targets.items()
        if LAYERS.index(other) > LAYERS.index(app)
        for module in importers
    ]
    assert upward == []


def test_no_apps_import_each_other_in_a_circle():
    graph = {app: set(targets) for app, targets in app_imports().items()}

    def reaches(start, goal, seen=()):
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, (*seen, nxt))) for nxt in graph.get(start, ()))

    assert [app for app in LAYERS if reaches(app, app)] == []


@pytest.mark.parametrize("app", PRODUCT_APPS)
def test_no_product_module_is_over_500_lines(app):
    long = {str(path.relative_to(ROOT)): n for path in modules(app) if (n := len(path.read_text().splitlines())) > 500}
    assert long == {}


def test_no_app_holds_over_35_percent_of_the_product_code():
    lines = {app: sum(len(path.read_text().splitlines()) for path in modules(app)) for app in PRODUCT_APPS}
    total = sum(lines.values())
    assert {app: round(100 * n / total) for app, n in lines.items() if n / total > 0.35} == {}


def test_the_shape_test_sees_an_upward_import(tmp_path):
    module = tmp_path / "example.py"
    module.write_text("def later():\n    from sending.outbox import message_queue\n")
    assert imported_apps(module) == {"sending"}
