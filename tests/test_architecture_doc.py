"""docs/ARCHITECTURE.md names every module of advisor/ and engines/, so the map cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGES = ("advisor", "engines")


def modules(package: str) -> list[str]:
    """Every module of ``package`` as a path inside it (``tui/app.py``); empty ``__init__.py`` files
    only mark packages and are left out."""
    root = ROOT / package
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if "__pycache__" not in p.parts and not (p.name == "__init__.py" and not p.read_text().strip())
    )


def named_in_section(package: str) -> set[str]:
    """The `code` spans in the first column of the table rows of the doc's ``## <package>/`` section."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {package}/\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"docs/ARCHITECTURE.md has no '## {package}/' section"
    first_cells = [line.split("|")[1] for line in match.group(1).splitlines() if line.startswith("|")]
    return {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_has_a_line_in_the_architecture_doc(package: str) -> None:
    missing = [m for m in modules(package) if m not in named_in_section(package)]
    assert not missing, (
        f"docs/ARCHITECTURE.md's '## {package}/' table lacks {missing}: "
        "add one row per module, `path/inside/the/package.py` | what it holds"
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_the_doc_names_no_module_that_is_gone(package: str) -> None:
    present = set(modules(package))
    gone = sorted(n for n in named_in_section(package) if n.endswith(".py") and n not in present)
    assert not gone, f"docs/ARCHITECTURE.md's '## {package}/' section names modules that do not exist: {gone}"
