"""The dev-only package stays out of the runtime apps and out of the production image."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNTIME_APPS = ("driftwatch", "providers", "baselines", "drifts")


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_runtime_apps_never_import_devtools():
    found = []
    for app in RUNTIME_APPS:
        for path in sorted((REPO / app).rglob("*.py")):
            rel = path.relative_to(REPO)
            if "tests" in rel.parts:
                continue
            for line, module in _imported_modules(ast.parse(path.read_text(), filename=str(rel))):
                if module == "devtools" or module.startswith("devtools."):
                    found.append(f"{rel}:{line} imports {module}")
    assert found == []


def test_the_production_image_ships_no_dev_only_code():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {"devtools", "bench", "tests", "conftest.py"} <= ignored
