"""Details of one cohort that the dashboard shows beside the three views: each member's weekly
activity, a member's self-assessments and latest statements, and a fingerprint that changes
whenever the cohort does.

Read-only, over the same ``cohort_rows`` as :mod:`projections.cohort_views` and under the same
definitions (``docs/cohort-metrics.md``): "latest" orders by (timestamp, statement id). Totals (progress, engagement, success) are never recomputed here: the
dashboard takes them from the views themselves, as the API does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
import sqlalchemy as sa

from projections.cohorts import cohorts, members, programmes
from projections.cohorts import rows as cohort_rows


class CohortDetails:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def member_weeks(self, key: str, start: date, end: date) -> dict[int, dict[str, int]]:
        """member position -> {ISO week: counted statements} between ``start`` and ``end`` (inclusive)."""
        r = cohort_rows.c
        query = (
            sa.select(r.position, r.week, sa.func.count())
            .where(r.cohort_key == key, r.position.is_not(None), r.day >= start.isoformat(), r.day <= end.isoformat())
            .group_by(r.position, r.week)
        )
        weeks: dict[int, dict[str, int]] = defaultdict(dict)
        with self.engine.connect() as conn:
            for position, week, n in conn.execute(query):
                weeks[position][week] = int(n)
        return weeks

    def scores(self, key: str, position: int, activities: list[str]) -> list[tuple[str, str, float]]:
        """(time, activity, scaled score) of a member's counted statements on ``activities``, in time order."""
        if not activities:
            return []
        r = cohort_rows.c
        query = (
            sa.select(r.at, r.object_id, r.scaled)
            .where(r.cohort_key == key, r.position == position, r.object_id.in_(activities), r.scaled.is_not(None))
            .order_by(r.at, r.statement_id)
        )
        with self.engine.connect() as conn:
            return [(at, activity, float(scaled)) for at, activity, scaled in conn.execute(query)]

    def latest_statement_ids(self, key: str, position: int, limit: int) -> list[str]:
        """The ids of a member's latest counted statements, newest first."""
        r = cohort_rows.c
        query = (
            sa.select(r.statement_id)
            .where(r.cohort_key == key, r.position == position)
            .order_by(r.at.desc(), r.statement_id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def fingerprint(self, key: str) -> str:
        """Changes whenever a statement is counted for the cohort or leaves it, its definitions
        change, or a member leaves it (an erasure keeps the definition's time): what a live page
        compares to know that it is out of date."""
        r = cohort_rows.c
        with self.engine.connect() as conn:
            count, latest = conn.execute(sa.select(sa.func.count(), sa.func.max(r.at)).where(r.cohort_key == key)).one()
            listed = conn.execute(sa.select(sa.func.count()).where(members.c.cohort_key == key)).scalar()
            defined = conn.execute(
                sa.select(cohorts.c.defined, programmes.c.defined)
                .select_from(cohorts.outerjoin(programmes, programmes.c.key == cohorts.c.programme_key))
                .where(cohorts.c.key == key)
            ).first()
        return f"{count}|{latest or ''}|{defined[0] if defined else ''}|{defined[1] if defined else ''}|{listed}"
