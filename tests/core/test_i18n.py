from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.core.i18n import MESSAGES, negotiate_locale, translate


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("fr-FR, en;q=0.5", "en"),
        ("en;q=0.2, zh;q=0.8", "zh-CN"),
        ("de", "zh-CN"),
        ("en;q=0", "zh-CN"),
        ("en;q=abc", "zh-CN"),
    ],
)
def test_locale_negotiation(header: str | None, locale: str) -> None:
    assert negotiate_locale(header) == locale


def test_every_message_has_both_languages() -> None:
    for code, (chinese, english) in MESSAGES.items():
        assert chinese, code
        assert english, code


def test_missing_parameters_do_not_break_a_message() -> None:
    assert translate("detail.payload_too_large", "en") == "The request body must not exceed  bytes"


def _field_codes_raised() -> set[str]:
    """The field codes our code raises ValidationFailed with (its second argument, when a
    string constant), read from the source."""
    codes = set()
    for path in Path("app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "ValidationFailed"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                codes.add(f"field.{node.args[1].value}")
    return codes


def test_every_field_code_raised_has_a_message() -> None:
    """A code without a message would answer with the bare code in both languages."""
    raised = _field_codes_raised()
    assert len(raised) > 20
    assert sorted(raised - set(MESSAGES)) == []
