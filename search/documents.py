"""The search document: one published listing and its result, flattened for filtering."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class ListingDocument(BaseModel):
    """What the search index holds about a listing (the same for every backend)."""

    id: uuid.UUID
    result_id: uuid.UUID
    title: str
    abstract: str
    keywords: list[str]
    field_code: str
    field_parent: str
    kind: str
    transfer_type: str
    mode: str
    price_fen: int | None
    trl: int
    stage: str
    division_code: str
    prefecture_code: str
    province_code: str
    owner_id: uuid.UUID
    owner_kind: str
    owner_name: str
    ipc_codes: list[str]
    published_at: datetime
    window_ends_at: datetime | None
    auction_state: str | None
