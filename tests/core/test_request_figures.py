"""The request metrics (`RequestFigures`: plain numbers handed to Prometheus when it scrapes)
read exactly as prometheus_client's own counter and histogram fed the same answers would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from app.core.observability import RequestFigures

LISTING, BIDS = "/v1/listings/{listing_id}", "/v1/auctions/{auction_id}/bids"
ANSWERS = [
    ("GET", LISTING, 200, 0.0042),
    ("GET", LISTING, 200, 0.005),  # on a bound: counted within it, as `le` says
    ("GET", LISTING, 404, 0.012),
    ("POST", BIDS, 409, 0.3),
    ("POST", BIDS, 409, 0.0),
    ("POST", BIDS, 201, 12.5),  # above every bound
    ("GET", "unmatched", 404, 0.0001),
]


def _exposition(registry: CollectorRegistry) -> list[str]:
    # prometheus_client's children also say when each was made; ours leave that out.
    text = generate_latest(registry).decode()
    return sorted(line for line in text.splitlines() if "_created" not in line)


def test_the_figures_read_as_prometheus_clients_own() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    figures = RequestFigures()
    ours.register(figures)
    requests = Counter(
        "techx_http_requests_total",
        "HTTP requests answered",
        ["method", "route", "status"],
        registry=theirs,
    )
    durations = Histogram(
        "techx_http_request_duration_seconds",
        "Time to answer an HTTP request",
        ["method", "route"],
        registry=theirs,
    )

    for method, route, status, seconds in ANSWERS:
        figures.add(method, route, status, seconds)
        requests.labels(method, route, str(status)).inc()
        durations.labels(method, route).observe(seconds)

    assert _exposition(ours) == _exposition(theirs)
    assert 'techx_http_requests_total{method="POST",route="' + BIDS + '",status="409"} 2.0' in (
        _exposition(ours)
    )
