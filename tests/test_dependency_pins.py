"""No dependency held back without a reason: a requirement in pyproject.toml with an upper bound
(`<`, `<=`, `==`, `~=`) either allows the newest release on the package index or carries, on its
line, a comment naming the upstream bug that holds it (an issue or pull-request address, or
`owner/repo#123`). A test tool never decides a dependency's version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
UPPER_BOUND = {"<", "<=", "==", "~=", "==="}
UPSTREAM_BUG = re.compile(r"https?://\S+/(issues|pull|pulls)/\d+|\b[\w.-]+/[\w.-]+#\d+")
_LINE = re.compile(r'^\s*"(?P<requirement>[^"]+)",?\s*(#\s*(?P<comment>.*))?$')


def requirement_lines(text: str) -> list[tuple[Requirement, str]]:
    """Each requirement of the project's dependency lists (`[project] dependencies`, every
    `[project.optional-dependencies]` group, `[build-system] requires`), with its line's
    comment."""
    found = []
    table, inside = "", False
    for line in text.splitlines():
        if header := re.match(r"^\[([\w.-]+)\]\s*$", line):
            table = header[1]
            continue
        if re.match(r"^([\w-]+)\s*=\s*\[\s*$", line) and (
            table == "project.optional-dependencies"
            or (table, line.split("=")[0].strip())
            in {("project", "dependencies"), ("build-system", "requires")}
        ):
            inside = True
            continue
        if inside and line.strip() == "]":
            inside = False
            continue
        if inside and (match := _LINE.match(line)):
            found.append((Requirement(match["requirement"]), match["comment"] or ""))
    return found


def capped(requirement: Requirement) -> bool:
    return any(spec.operator in UPPER_BOUND for spec in requirement.specifier)


def newest_release(name: str) -> Version | None:
    """The newest release on the configured index (pip's), or None when it cannot be asked."""
    try:
        answer = subprocess.run(  # noqa: S603 - pip of this interpreter
            [sys.executable, "-m", "pip", "index", "versions", name, "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return None
    match = re.search(rf"^{re.escape(name)} \(([^)]+)\)", answer.stdout, re.MULTILINE | re.I)
    return Version(match[1]) if match else None


def test_the_reader_sees_every_requirement_and_its_comment() -> None:
    lines = requirement_lines(PYPROJECT.read_text())
    names = {requirement.name for requirement, _ in lines}
    assert {"fastapi", "stripe", "meilisearch-python-sdk", "pytest", "localstripe"} <= names
    assert requirement_lines('[project]\ndependencies = [\n  "x<2",  # a/b#12 holds it\n]\n') == [
        (Requirement("x<2"), "a/b#12 holds it")
    ]


@pytest.mark.parametrize(
    ("comment", "names_a_bug"),
    [
        ("https://github.com/encode/httpx/issues/3000 breaks streaming", True),
        ("see lundberg/respx#277", True),
        ("respx cannot intercept it", False),
        ("", False),
    ],
)
def test_an_upstream_bug_is_an_issue_address_or_reference(comment: str, names_a_bug: bool) -> None:
    assert bool(UPSTREAM_BUG.search(comment)) is names_a_bug


def test_every_upper_bound_allows_the_newest_release_or_names_the_upstream_bug() -> None:
    held_back, unknown = [], []
    for requirement, comment in requirement_lines(PYPROJECT.read_text()):
        if not capped(requirement) or UPSTREAM_BUG.search(comment):
            continue
        newest = newest_release(requirement.name)
        if newest is None:
            unknown.append(requirement.name)
        elif newest not in requirement.specifier:
            held_back.append(f"{requirement} excludes {newest}")
    assert not held_back, f"pins without an upstream bug on their line: {held_back}"
    if unknown:
        pytest.skip(f"the package index could not be asked about {unknown}")
