"""The docs cannot drift from working code.

- An included file (``<!-- include: examples/fastapi_app/app.py -->`` then a fenced block, then
  ``<!-- end include -->``) must be shown verbatim: the examples are run by the tests (``tests/frameworks``), so
  a quickstart that includes them shows code that works. ``python tests/test_docs.py --write`` rewrites the
  blocks from the files.
- Every Python block of ``docs/`` and ``README.md`` imports only public modules of the library (no path with a
  part starting with ``_``) and only names those modules have: one import path per public name, on every page.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])
INCLUDE = re.compile(
    r"<!-- include: (?P<path>[^ ]+) -->\n```(?P<lang>\w*)\n(?P<body>.*?)```\n<!-- end include -->", re.DOTALL
)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
OURS = ("authkit_core", "authkit_adapters")
FROM_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+\(?([^)#\n]+)", re.MULTILINE)
PLAIN_IMPORT = re.compile(r"^\s*import\s+([\w.]+)", re.MULTILINE)


def includes(text: str) -> list[re.Match[str]]:
    return list(INCLUDE.finditer(text))


def rewrite(text: str) -> str:
    """``text`` with every include block refreshed from its file."""

    def fill(match: re.Match[str]) -> str:
        body = (ROOT / match["path"]).read_text()
        return f"<!-- include: {match['path']} -->\n```{match['lang']}\n{body}```\n<!-- end include -->"

    return INCLUDE.sub(fill, text)


def imports(block: str) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import in a Python block (``names`` empty for ``import module``). Blocks that
    are fragments (``...``, top-level ``await``) are read line by line."""
    try:
        tree = ast.parse(block)
    except SyntaxError:
        found: list[tuple[str, list[str]]] = []
        for module, names in FROM_IMPORT.findall(block):
            found.append((module, [n.strip().split(" as ")[0] for n in names.split(",") if n.strip()]))
        found += [(module, []) for module in PLAIN_IMPORT.findall(block)]
        return found
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_included_files_are_shown_verbatim(page: Path) -> None:
    text = page.read_text()
    for match in includes(text):
        path = ROOT / match["path"]
        assert path.is_file(), f"{page.name} includes {match['path']}, which does not exist"
        assert match["body"] == path.read_text(), (
            f"{page.name}: the block of {match['path']} differs from the file; run: python tests/test_docs.py --write"
        )


def test_the_quickstarts_include_their_complete_examples() -> None:
    included = {m["path"] for page in PAGES for m in includes(page.read_text())}
    for example in (
        "examples/minimal/fastapi_app.py",
        "examples/minimal/flask_app.py",
        "examples/fastapi_app/app.py",
        "examples/starlette_app/app.py",
        "examples/flask_app/app.py",
        "examples/django_app/example_site/views.py",
        "examples/django_app/example_site/urls.py",
        "examples/django_app/example_site/settings.py",
    ):
        assert example in included, f"no quickstart includes {example}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_import_public_names_that_exist(page: Path) -> None:
    problems = []
    for block in PYTHON_BLOCK.findall(page.read_text()):
        for module, names in imports(block):
            if not module.startswith(OURS):
                continue
            if any(part.startswith("_") for part in module.split(".")):
                problems.append(f"{module} is private")
                continue
            try:
                loaded = importlib.import_module(module)
            except ImportError as exc:
                problems.append(f"{module} does not import ({exc})")
                continue
            for name in names:
                if name != "*" and not hasattr(loaded, name):
                    try:
                        importlib.import_module(f"{module}.{name}")  # a submodule
                    except ImportError:
                        problems.append(f"{module} has no {name}")
    assert problems == [], f"{page.name}: {problems}"


if __name__ == "__main__":  # python tests/test_docs.py --write: refresh every include block from its file
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_docs.py --write")
    for page in PAGES:
        text = page.read_text()
        new = rewrite(text)
        if new != text:
            page.write_text(new)
            print(f"updated {page.relative_to(ROOT)}")


def test_one_import_path_per_public_name() -> None:
    """A name is imported from the same module on every page (``UserInfo`` always from ``authkit_core``, never
    once from ``authkit_core.models``): the modules of the library's own faces and frameworks
    (``authkit_adapters.asgi``, ``.wsgi``, ``.starlette`` ...) may each export their own function of a name."""
    seen: dict[str, set[str]] = {}
    for page in PAGES:
        for block in PYTHON_BLOCK.findall(page.read_text()):
            for module, names in imports(block):
                if module.startswith("authkit_core"):
                    for name in names:
                        seen.setdefault(name, set()).add(module)
    assert {name: modules for name, modules in seen.items() if len(modules) > 1} == {}
