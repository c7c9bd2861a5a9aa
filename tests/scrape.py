"""Reading a Prometheus exposition (`GET /metrics`) in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[str, float]:
    """Each sample by its name and labels as the exposition writes them, labels in name order:
    `techx_outbox_backlog`, `techx_bids_total{outcome="accepted"}`."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def total(text: str, prefix: str) -> float:
    """The sum of every sample whose key starts with `prefix` (a family, or a family and
    its first labels)."""
    return sum(value for key, value in samples(text).items() if key.startswith(prefix))
