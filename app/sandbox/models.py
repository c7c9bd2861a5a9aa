"""The stored sandbox clock: one row, how far the platform runs ahead of the system time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import CheckConstraint, Interval, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class SandboxClockSetting(Base):
    """The distance every process adds to the system time (`SandboxClock`). No row: none."""

    __tablename__ = "sandbox_clock"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    ahead_by: Mapped[timedelta] = mapped_column(Interval, server_default=text("'0'::interval"))

    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("ahead_by >= '0'::interval", name="never_behind"),
    )
