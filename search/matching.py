"""Does one document match a query? The same rules as the backends, for one document at a
time: used to tell saved searches about a newly published listing."""

from __future__ import annotations

from search.analysis import query_terms, segment, segment_query, synonym_groups, synonyms_of
from search.backend import Filters
from search.documents import ListingDocument


def _tokens(document: ListingDocument) -> set[str]:
    text = " ".join([document.title, *document.keywords, document.abstract, document.owner_name])
    return set(segment(text)) | {code.lower().replace(" ", "") for code in document.ipc_codes}


def _term_matches(text: str, prefix: bool, tokens: set[str]) -> bool:
    # As in the PostgreSQL backend: the term itself is one word (a prefix when `prefix`);
    # a synonym, or a term that is itself a synonym phrase, is its words in a row.
    if text not in synonym_groups():
        return (prefix and any(token.startswith(text) for token in tokens)) or text in tokens
    for alternative in synonyms_of(text):
        words = segment_query(alternative) or [alternative]
        if all(word in tokens for word in words):
            return True
        if alternative == text and prefix and any(token.startswith(text) for token in tokens):
            return True
    return False


def filters_match(document: ListingDocument, filters: Filters) -> bool:
    price = document.price_fen
    return (
        (filters.field is None or filters.field in {document.field_code, document.field_parent})
        and (filters.kind is None or document.kind == filters.kind)
        and (filters.transfer_type is None or document.transfer_type == filters.transfer_type)
        and (filters.mode is None or document.mode == filters.mode)
        and (filters.stage is None or document.stage == filters.stage)
        and (filters.region is None or document.division_code.startswith(filters.region))
        and (
            filters.price_min_fen is None or (price is not None and price >= filters.price_min_fen)
        )
        and (
            filters.price_max_fen is None or (price is not None and price <= filters.price_max_fen)
        )
    )


def document_matches(document: ListingDocument, text: str, filters: Filters) -> bool:
    """Every query term (or a synonym) is in the document, and every filter holds."""
    if not filters_match(document, filters):
        return False
    tokens = _tokens(document)
    return all(_term_matches(term.text, term.prefix, tokens) for term in query_terms(text))


def shared_terms(document: ListingDocument, text: str) -> tuple[int, int]:
    """(how many of the text's terms the document has, how many terms the text has): the
    "any word" matching that ranks listings for a demand, as a count."""
    tokens = _tokens(document)
    terms = query_terms(text)
    return sum(_term_matches(term.text, term.prefix, tokens) for term in terms), len(terms)
