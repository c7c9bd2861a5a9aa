"""Chinese text analysis shared by the search backends: segmentation, synonyms, highlighting.

Chinese has no spaces between words; rjieba (a Rust port of jieba) segments text in search
mode, which also emits the shorter words inside long ones (稀土永磁材料 → 稀土, 永磁, 材料, …),
so a query for a part of a compound still finds it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import rjieba

_TOKEN = re.compile(r"\w", re.UNICODE)
MAX_QUERY_CHARS = 200


def segment(text: str) -> list[str]:
    """Index tokens of a text: search mode (words and the shorter words inside them),
    lower-cased, without punctuation or spaces."""
    return [token.lower() for token in rjieba.cut_for_search(text) if _TOKEN.search(token)]


def segment_query(text: str) -> list[str]:
    """Query tokens: precise mode, one token per word. A query word is matched against the
    index's words *and* sub-words, so it must not itself be split into sub-words (乳制品 must
    not also require 制品)."""
    return [token.lower() for token in rjieba.cut(text) if _TOKEN.search(token)]


_CJK = re.compile(r"^[\u4e00-\u9fff]$")


@dataclass(frozen=True)
class Term:
    """One term of a query; `prefix` when it may be the start of a longer word."""

    text: str
    prefix: bool


@lru_cache(maxsize=4096)
def query_terms(query: str) -> tuple[Term, ...]:
    """The terms of a user's query, in order, without duplicates; kept for the process's
    latest few thousand queries (a search's segmentation, like its pattern, need not be done
    again for the same words).

    Runs of single Chinese characters are what the segmenter leaves of a word it does not know
    or of a word cut short (钕铁 from 钕铁硼): they are joined again and matched as a prefix. The
    last term is a prefix too, so results follow the user's typing.
    """
    terms: list[Term] = []
    run = ""
    for token in _tokens(query):
        if _CJK.match(token):
            run += token
            continue
        if run:
            terms.append(Term(run, len(run) > 1))
            run = ""
        terms.append(Term(token, False))
    if run:
        terms.append(Term(run, len(run) > 1))
    if terms:
        terms[-1] = Term(terms[-1].text, True)
    unique: dict[str, Term] = {}
    for term in terms:
        if term.text not in unique or term.prefix:
            unique[term.text] = term
    return tuple(unique.values())


@cache
def synonym_groups() -> dict[str, tuple[str, ...]]:
    """term → the whole group it belongs to (itself included), from the shipped file."""
    source = resources.files("search") / "data" / "synonyms.txt"
    groups: dict[str, tuple[str, ...]] = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        group = tuple(term.strip().lower() for term in line.split(",") if term.strip())
        for term in group:
            groups[term] = group
    return groups


@cache
def _phrases() -> re.Pattern[str] | None:
    """Synonyms the segmenter would cut into several words (稀土永磁 → 稀土, 永磁)."""
    phrases = sorted(
        (term for term in synonym_groups() if len(rjieba.cut(term)) > 1), key=len, reverse=True
    )
    return re.compile("|".join(re.escape(p) for p in phrases), re.IGNORECASE) if phrases else None


def _tokens(query: str) -> list[str]:
    """Query tokens, keeping a multi-word synonym whole so that it finds its group."""
    pattern = _phrases()
    if pattern is None:
        return segment_query(query)
    tokens: list[str] = []
    last = 0
    for match in pattern.finditer(query):
        tokens += segment_query(query[last : match.start()])
        tokens.append(match.group(0).lower())
        last = match.end()
    return tokens + segment_query(query[last:])


def synonyms_of(term: str) -> tuple[str, ...]:
    return synonym_groups().get(term, (term,))


@lru_cache(maxsize=4096)
def highlighter(
    terms: tuple[Term, ...], *, pre: str = "<em>", post: str = "</em>"
) -> Callable[[str], str]:
    """A function giving a text HTML-escaped with every occurrence of a term (or a synonym)
    wrapped in tags, for all the hits of a search; kept, with its compiled pattern, for the
    latest few thousand sets of terms, as the terms are (`query_terms`)."""
    needles = tuple(
        sorted(
            {synonym for term in terms for synonym in synonyms_of(term.text) if synonym},
            key=len,
            reverse=True,
        )
    )
    if not needles:
        return html.escape
    pattern = re.compile("|".join(re.escape(needle) for needle in needles), re.IGNORECASE)

    def highlight(text: str) -> str:
        out: list[str] = []
        last = 0
        for match in pattern.finditer(text):
            out.append(html.escape(text[last : match.start()]))
            out.append(pre + html.escape(match.group(0)) + post)
            last = match.end()
        out.append(html.escape(text[last:]))
        return "".join(out)

    return highlight
