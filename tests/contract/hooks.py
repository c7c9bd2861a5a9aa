"""Schemathesis' `positive_data_acceptance` as the contract test runs it (loaded through
SCHEMATHESIS_HOOKS): every request generated from the document alone must be accepted, except a
422 whose every error is a rule the JSON Schema vocabulary cannot state and the request breaks —
a sum, an order, a check character, a table of codes, one field required by another's value — or
a rule about what is stored rather than what is sent.

The first kind are our own validators (a `PydanticCustomError` of a request model: `price_required`,
`budget_or_prize`, `uscc_invalid` …, each described in words in the document) and the service
rules named in `_service_rules`; the app's request model is run on the generated body to tell
whether the body breaks one. Pydantic's own errors (a length, a pattern, a bound) are never
excused: those the document states, and states right. The second kind are named in
`STORED_DATA`.

A client that reads the document also sends a fresh Idempotency-Key with each new request
(reusing one with another body is a 422 by design, as the header says) and only cursors the API
gave it.
"""

from __future__ import annotations

import sys
import typing
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import schemathesis
from fastapi.routing import APIRoute
from pydantic import HttpUrl, SecretStr, ValidationError
from pydantic_core.core_schema import ErrorType
from schemathesis.checks import positive_data_acceptance

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # schemathesis' process: the app

from app.core.config import Settings
from app.core.errors import DomainError
from app.main import create_app
from app.tax.models import FilingKind
from app.tax.periods import period_bounds

PYDANTIC_ERRORS = set(typing.get_args(ErrorType))
SHANGHAI = ZoneInfo("Asia/Shanghai")

STORED_DATA = {
    # who is who
    "not_your_organization": "who belongs to which organization",
    "not_your_own": "who owns the object",
    "no_such_user": "who has registered",
    "unknown_user": "who has registered",
    "second_factor_needed": "whether the person set up a second factor",
    "totp_invalid": "the second factor's secret and the time",
    "invalid_grant": "the refresh tokens issued (RFC 6749 §5.2 answers 400)",
    "same_party": "which organizations the ids name",
    # an organization's kind, standing and region
    "not_a_transfer_agency": "the organization's kind",
    "demand_enterprise_only": "the organization's kind",
    "intent_enterprise_only": "the organization's kind",
    "intent_verified_only": "the organization's verification",
    "not_verified": "the organization's verification",
    "bidder_unverified": "the organization's verification",
    "not_recognized": "the agency's recognitions",
    "recognition_overlaps": "the agency's recognitions",
    "evaluation_not_passed": "the agency's evaluations",
    "not_evaluated": "the agency's evaluations",
    "not_a_broker": "the person's broker profile",
    "agency_required": "the broker's profile",
    "outside_region": "the organization's region and the policy's",
    "vat_period_mismatch": "the organization's VAT period",
    "window_too_short": "the deployment's publication windows for the organization's kind",
    "window_too_long": "the deployment's publication windows",
    "webhook_url_not_https": "the deployment's setting (development allows plain HTTP)",
    "webhook_url_private": "where the host's name resolves",
    # what happened to the objects named
    "own_challenge": "who published the challenge",
    "not_a_solver": "who proposed",
    "not_ranked": "the ranking",
    "scoring_incomplete": "the experts' scores",
    "conflict_of_interest": "who the expert works for",
    "declaration_required": "the expert's assignment",
    "intent_own_listing": "who owns the listing",
    "bid_own_listing": "who owns the listing",
    "bidder_not_intent_holder": "who registered intent",
    "buyer_not_intent_holder": "who registered intent",
    "deposit_already_requested": "the deposits asked for",
    "demand_closed": "the demand's state",
    "contract_not_registered": "the contract's registration",
    "contract_not_paid": "the payments received",
    "milestone_paid": "the payments received",
    "no_such_milestone": "the contract's milestones",
    "total_below_deposit": "the deposit applied to the deal",
    "share_over_remainder": "the shares already granted on the contract",
    "not_an_agency_claim": "the claim's kind",
    "policy_not_applicable": "the policies in force where the contract was registered",
    "no_rule_set_in_force": "the tax rule sets in force",
    "filing_kind_not_supported": "the tax rule sets in force",
    "nothing_counts": "the contracts registered",
    "costs_above_income": "the figures booked",
    "import_file": "what a file holds (the document says CSV or XLSX, not which columns)",
    # the time
    "expiry_past": "the time",
    "deadline_passed": "the time",
    "deadline_within_window": "the time and the listing's window",
    "claim_deadline_passed": "the time",
    "auction_start_past": "the time",
    "period_in_future": "the time",
    "period_not_closed": "the time (a period is filed once it has ended)",
    "year_not_over": "the time",
    "year_not_started": "the time",
    "proposals_closed": "the challenge's deadline and the time",
    "proposals_still_open": "the challenge's deadline and the time",
}
"""Refusals that depend on what is stored, configured, uploaded or the time, not on the
request's shape: no document can state them."""

IN_WORDS = {
    "auction_end_before_start": "an auction ends after it starts",
    "reserve_below_start_price": "a reserve is at least the start price",
    "two_phase_alone": "two-phase timing replaces `anti_sniping` and `ends_at`",
    "period_inverted": "a recognition ends after it starts",
    "export_too_long": "an export spans at most its limit of events",
}
"""Rules across fields that a service checks, stated in words in the document and excused by
their code alone (the others are worked out from the request in `_service_rules`)."""

STATE_OF_ONE_OPERATION = {
    ("POST", "/v1/listings/{listing_id}/withdraw"): {"missing": "a published listing's reason"},
}
STORED_FIELDS = {
    ("body.organization_id", "missing"): "the caller's organizations (one is the default)",
}
"""Refusals of one field that depend on what is stored, by (field, code)."""


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    if not _positive(case):
        return
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if case.query:
        case.query.pop("cursor", None)


@schemathesis.check
def valid_data_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """`positive_data_acceptance`, save for the refusals this module names."""
    if _positive(case) and response.status_code in {400, 422}:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        errors = [
            error
            for error in problem.get("errors") or []
            if (error.get("field"), error.get("code")) not in STORED_FIELDS
        ]
        codes = {error.get("code") for error in errors}
        if not problem.get("errors"):
            codes = {problem.get("code")}
        operation = (case.operation.method.upper(), case.operation.path)
        excused = (
            rules_broken(operation, case.body, case.query)
            | set(STORED_DATA)
            | set(IN_WORDS)
            | set(STATE_OF_ONE_OPERATION.get(operation, {}))
        )
        if codes <= excused:
            return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


def _positive(case: Any) -> bool:
    return case.meta is not None and bool(case.meta.generation.mode.is_positive)


@cache
def _body_fields() -> dict[tuple[str, str], Any]:
    app = create_app(
        Settings(
            environment="test",
            secret_key=SecretStr("contract-hooks-" + "x" * 32),
            database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        )
    )
    return {
        (method, route.path_format): route.body_field
        for route in app.routes
        if isinstance(route, APIRoute) and route.body_field is not None
        for method in route.methods
    }


def _model_rules(operation: tuple[str, str], body: Any) -> set[str]:
    """Our validators' codes that the app's request model raises on the body."""
    field = _body_fields().get(operation)
    if field is None or body is None:
        return set()
    _, errors = field.validate(body, {}, loc=("body",))
    return {error["type"] for error in errors or []} - PYDANTIC_ERRORS


def _fen(money: Any) -> int | None:
    try:
        return int(Decimal(money["amount"]) * 100) if isinstance(money, dict) else None
    except (InvalidOperation, KeyError, TypeError):
        return None


def _sum(items: list[Any], key: str) -> int | None:
    amounts = [_fen(item.get(key)) if isinstance(item, dict) else None for item in items]
    return None if None in amounts else sum(a for a in amounts if a is not None)


def _service_rules(body: dict[str, Any]) -> set[str]:
    """Rules a service checks across fields, each stated in words in the document."""
    broken = set()
    milestones, items = body.get("milestones"), body.get("price_items")
    # A contract's milestones add up to its total.
    if (
        isinstance(milestones, list)
        and milestones
        and "total" in body
        and _sum(milestones, "amount") != _fen(body["total"])
    ):
        broken.add("milestones_sum")
    # Its technology items are its technology-transaction amount.
    amount = _fen(body.get("transaction_amount"))
    if isinstance(items, list) and amount is not None:
        technology = [i for i in items if isinstance(i, dict) and i.get("category") == "technology"]
        if _sum(technology, "amount") != amount:
            broken.add("price_items_technology")
    # A tax period has its kind's form: `YYYY`, `YYYY-MM`, or for VAT `YYYY-Qn`.
    kind = body.get("kind")
    if isinstance(kind, str) and kind in FilingKind.__members__ and "period" in body:
        try:
            period_bounds(FilingKind(kind), str(body["period"]))
        except DomainError:
            broken.add("period_format")
    # Rates, shares and scores have two decimals at most: the document says so in words, as a
    # JSON Schema `multipleOf: 0.01` is checked in binary floating point (0.3 fails it).
    if any(
        isinstance(v, float) and -Decimal(repr(v)).as_tuple().exponent > 2 for v in body.values()
    ):  # type: ignore[operator]
        broken.add("decimal_max_places")
    # A webhook URL, normalized (IDNA, percent-encoding), is at most 2,000 characters.
    if isinstance(body.get("url"), str):
        try:
            if len(str(HttpUrl(body["url"]))) > 2000:
                broken.add("string_too_long")
        except ValidationError:
            pass
    return broken


def _query_rules(query: dict[str, Any]) -> set[str]:
    """Ranges given in two parameters run forward."""
    broken = set()
    pairs = [
        ("since", "until", "before_since"),
        ("period_from", "period_to", "before_period_from"),
    ]
    now = datetime.now(SHANGHAI)  # the server's clock
    defaults = {
        # The indicators' months run from this year's January to this month by default.
        "before_period_from": (f"{now.year}-01", now.strftime("%Y-%m")),
        "before_since": ("", now.isoformat()),
    }
    for start, end, code in pairs:
        first = query.get(start) or defaults[code][0]
        last = query.get(end) or defaults[code][1]
        if str(last) < str(first):
            broken.add(code)
    try:
        low, high = Decimal(str(query["price_min"])), Decimal(str(query["price_max"]))
        if high < low:
            broken.add("range_inverted")
    except (KeyError, InvalidOperation):
        pass
    return broken


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _dicts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value, *(d for v in value.values() for d in _dicts(v))]
    if isinstance(value, list):
        return [d for v in value for d in _dicts(v)]
    return []


def rules_broken(operation: tuple[str, str], body: Any, query: Any) -> set[str]:
    """The codes of the rules stated in words that the request breaks."""
    broken = _model_rules(operation, body)
    if _has_nul(body) or _has_nul(query):
        # No text holds U+0000: the document says so on every string it types; what it leaves
        # free (an object of any keys, a parameter it does not name) is free of it too.
        broken.add("nul_character")
    for part in _dicts(body):
        broken |= _service_rules(part)
    if isinstance(query, dict):
        broken |= _query_rules(query)
    return broken
