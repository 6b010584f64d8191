"""The dashboard's chart: records created per day over the last 30 days, drawn as inline SVG on the server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin.options import ModelAdmin
from webapp.admin.types import DateTimeType

DAYS = 30
WIDTH, HEIGHT, GAP = 600, 120, 2


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    admin: ModelAdmin
    bars: list[Bar]
    total: int
    peak: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def summary(self) -> str:
        if not self.total:
            return f"No {self.admin.name_plural} were created in the last {DAYS} days."
        busiest = max(self.bars, key=lambda bar: bar.count)
        return (
            f"{self.total:,} {self.admin.name_plural} created in the last {DAYS} days; "
            f"the busiest day was {busiest.day.isoformat()} with {busiest.count:,}."
        )


def chartable(admins: list[ModelAdmin]) -> list[ModelAdmin]:
    return [a for a in admins if "created_at" in a.fields and isinstance(a.fields["created_at"].type, DateTimeType)]


async def created_per_day(
    session: AsyncSession, admin: ModelAdmin, account: Any = None, today: date | None = None
) -> Chart:
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=DAYS - 1)
    column: Any = admin.fields["created_at"].column
    # SQLite keeps datetimes as text (date() reads it); PostgreSQL casts.
    day = func.date(column) if session.get_bind(mapper=admin.model).dialect.name == "sqlite" else cast(column, Date)
    since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    per_day = admin.scoped(select(day, func.count()).where(column >= since).group_by(day), account)
    rows = (await session.execute(per_day)).all()
    counts = {(d if isinstance(d, date) else date.fromisoformat(str(d))): n for d, n in rows}
    peak = max(counts.values(), default=0)
    slot = WIDTH / DAYS
    bars = []
    for index in range(DAYS):
        when = start + timedelta(days=index)
        n = counts.get(when, 0)
        height = (HEIGHT - 16) * n / peak if peak else 0
        bars.append(Bar(when, n, index * slot, HEIGHT - height, slot - GAP, height))
    return Chart(admin=admin, bars=bars, total=sum(counts.values()), peak=peak)
