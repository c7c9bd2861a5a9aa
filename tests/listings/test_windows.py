from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.listings.windows import window_end


@pytest.mark.parametrize(
    ("published", "days", "ends"),
    [
        # 10:00 Beijing on 2 Nov; 15 days counted from 3 Nov; closes at 24:00 on 17 Nov Beijing.
        (datetime(2026, 11, 2, 2, 0, tzinfo=UTC), 15, datetime(2026, 11, 17, 16, 0, tzinfo=UTC)),
        # 23:30 UTC on 1 Nov is already 2 Nov in Beijing: the same result.
        (datetime(2026, 11, 1, 17, 30, tzinfo=UTC), 15, datetime(2026, 11, 17, 16, 0, tzinfo=UTC)),
        # 15:59 UTC on 2 Nov is 23:59 on 2 Nov in Beijing.
        (datetime(2026, 11, 2, 15, 59, tzinfo=UTC), 1, datetime(2026, 11, 3, 16, 0, tzinfo=UTC)),
        # Across a month and year end.
        (datetime(2026, 12, 20, 4, 0, tzinfo=UTC), 15, datetime(2027, 1, 4, 16, 0, tzinfo=UTC)),
    ],
)
def test_window_counts_whole_beijing_days(published: datetime, days: int, ends: datetime) -> None:
    assert window_end(published, days) == ends


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        window_end(datetime(2026, 11, 2), 15)
