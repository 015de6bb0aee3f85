"""The cohort views: progress, engagement and success, aggregated from ``cohort_rows``.

Read-only: nothing here writes. :mod:`projections.cohorts` keeps ``cohort_rows`` equal to the
facts each cohort counts under its current definition, so these queries only aggregate one
cohort's rows (SQL does the counting: a view of 100,000 statements moves aggregates, not rows)
and join them to the definitions as they are now (members, items, due dates). The metric
definitions are written out for analysts in ``docs/cohort-metrics.md``.

The success view reads the few rows carrying results on assessment, self-assessment and
pre/post items and orders them in Python by (timestamp, statement id): "latest" and "first"
are by that order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable

import sqlalchemy as sa

from projections.cohorts import cohorts, iso_week, members, programme_items, programmes
from projections.cohorts import rows as cohort_rows


@dataclass(frozen=True)
class Item:
    activity: str
    title: str
    kind: str
    required: bool
    due: str | None
    measure: str | None


@dataclass(frozen=True)
class Programme:
    key: str
    name: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Cohort:
    key: str
    name: str
    programme: str
    iri: str
    starts: str
    ends: str
    members: tuple[dict[str, Any], ...]


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


class CohortViews:
    """Definitions and the progress, engagement and success views of one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # ---- definitions -------------------------------------------------------------------
    def programme(self, key: str) -> Programme | None:
        found = self._programmes(programmes.c.key == key)
        return found[0] if found else None

    def programmes(self) -> list[Programme]:
        return self._programmes(sa.true())

    def _programmes(self, where) -> list[Programme]:
        with self.engine.connect() as conn:
            heads = conn.execute(sa.select(programmes).where(where).order_by(programmes.c.key)).all()
            items = conn.execute(
                sa.select(programme_items)
                .where(programme_items.c.programme_key.in_([h.key for h in heads]))
                .order_by(programme_items.c.programme_key, programme_items.c.position)
            ).all()
        by_key: dict[str, list[Item]] = defaultdict(list)
        for r in items:
            by_key[r.programme_key].append(Item(r.activity, r.title, r.kind, bool(r.required), r.due, r.measure))
        return [Programme(h.key, h.name, tuple(by_key[h.key])) for h in heads]

    def cohort(self, key: str) -> Cohort | None:
        found = self._cohorts(cohorts.c.key == key)
        return found[0] if found else None

    def cohorts(self) -> list[Cohort]:
        return self._cohorts(sa.true())

    def _cohorts(self, where) -> list[Cohort]:
        with self.engine.connect() as conn:
            heads = conn.execute(sa.select(cohorts).where(where).order_by(cohorts.c.key)).all()
            rows = conn.execute(
                sa.select(members)
                .where(members.c.cohort_key.in_([h.key for h in heads]))
                .order_by(members.c.cohort_key, members.c.position)
            ).all()
        by_key: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            by_key[r.cohort_key].append(json.loads(r.agent))
        return [
            Cohort(h.key, h.name, h.programme_key, h.iri, h.starts, h.ends, tuple(by_key[h.key])) for h in heads
        ]

    def _definitions(self, key: str) -> tuple[Cohort, Programme] | None:
        cohort = self.cohort(key)
        if cohort is None:
            return None
        programme = self.programme(cohort.programme) or Programme(cohort.programme, "", ())
        return cohort, programme

    # ---- progress ----------------------------------------------------------------------
    def progress(self, key: str, as_of: date) -> dict[str, Any] | None:
        """Who has completed which items by the end of ``as_of`` (UTC), and what is overdue."""
        found = self._definitions(key)
        if found is None:
            return None
        cohort, programme = found
        r = cohort_rows.c
        mine = (r.cohort_key == cohort.key, r.position.is_not(None), r.day <= as_of.isoformat())
        activities = [i.activity for i in programme.items]
        done_query = (
            sa.select(r.position, r.object_id)
            .distinct()
            .where(*mine, r.completes.is_(True), r.object_id.in_(activities))
        )
        last_query = sa.select(r.position, sa.func.max(r.at)).where(*mine).group_by(r.position)
        with self.engine.connect() as conn:
            done: dict[int, set[str]] = defaultdict(set)
            for position, activity in conn.execute(done_query):
                done[position].add(activity)
            last = dict(conn.execute(last_query).all())
        required = [i for i in programme.items if i.required]
        rows = []
        for position, agent in enumerate(cohort.members):
            completed = done.get(position, set())
            k = sum(1 for i in required if i.activity in completed)
            rows.append(
                {
                    "member": agent,
                    "completed_required": k,
                    "progress": k / len(required) if required else None,
                    "overdue": [
                        i.activity
                        for i in required
                        if i.due is not None and i.due < as_of.isoformat() and i.activity not in completed
                    ],
                    "last_active": last.get(position),
                }
            )
        items = [
            {"activity": i.activity, "completed_by": sum(1 for p in range(len(cohort.members)) if i.activity in done.get(p, ()))}
            for i in programme.items
        ]
        return {"cohort": cohort.key, "as_of": as_of.isoformat(), "required_items": len(required), "members": rows, "items": items}

    # ---- engagement --------------------------------------------------------------------
    def engagement(self, key: str, start: date | None = None, end: date | None = None) -> dict[str, Any] | None:
        """Weekly and per-member activity between ``start`` and ``end`` (inclusive UTC dates).

        Weeks run without gaps from the week of ``start`` to the week of ``end``; when either is
        not given it is the cohort's ``starts`` (``ends``), widened to the first (last) counted
        statement.
        """
        found = self._definitions(key)
        if found is None:
            return None
        cohort, _programme = found
        r = cohort_rows.c
        window = [r.cohort_key == cohort.key]
        if start is not None:
            window.append(r.day >= start.isoformat())
        if end is not None:
            window.append(r.day <= end.isoformat())
        contributions = sa.func.sum(sa.case((r.contributes.is_(True), 1), else_=0))
        member_query = (
            sa.select(r.position, sa.func.count(), sa.func.count(sa.distinct(r.day)), contributions, sa.func.max(r.at))
            .where(r.position.is_not(None), *window)
            .group_by(r.position)
        )
        week_query = (
            sa.select(r.week, sa.func.count(), contributions, sa.func.count(sa.distinct(r.position)))
            .where(*window)
            .group_by(r.week)
        )
        span_query = sa.select(sa.func.min(r.day), sa.func.max(r.day)).where(*window)
        with self.engine.connect() as conn:
            per_member = {row[0]: row for row in conn.execute(member_query)}
            per_week = {row[0]: row for row in conn.execute(week_query)}
            first_day, last_day = conn.execute(span_query).one()
        if start is None:
            start = min(d for d in (date.fromisoformat(cohort.starts), _day(first_day)) if d is not None)
        if end is None:
            end = max(d for d in (date.fromisoformat(cohort.ends), _day(last_day)) if d is not None)
        weeks = []
        for label in _weeks(start, end):
            row = per_week.get(label)
            weeks.append(
                {
                    "week": label,
                    "active_members": int(row[3]) if row else 0,
                    "statements": int(row[1]) if row else 0,
                    "contributions": int(row[2] or 0) if row else 0,
                }
            )
        rows = []
        for position, agent in enumerate(cohort.members):
            r = per_member.get(position)
            rows.append(
                {
                    "member": agent,
                    "statements": int(r[1]) if r else 0,
                    "active_days": int(r[2]) if r else 0,
                    "contributions": int(r[3] or 0) if r else 0,
                    "last_active": r[4] if r else None,
                }
            )
        return {"cohort": cohort.key, "from": start.isoformat(), "to": end.isoformat(), "weeks": weeks, "members": rows}

    # ---- success -----------------------------------------------------------------------
    def success(self, key: str) -> dict[str, Any] | None:
        """Assessment results, self-assessment trajectory and the pre/post change per member."""
        found = self._definitions(key)
        if found is None:
            return None
        cohort, programme = found
        assessments = [i.activity for i in programme.items if i.kind == "assessment"]
        self_items = {i.activity for i in programme.items if i.kind == "self-assessment"}
        pre = next((i.activity for i in programme.items if i.measure == "pre"), None)
        post = next((i.activity for i in programme.items if i.measure == "post"), None)
        wanted = set(assessments) | self_items | {a for a in (pre, post) if a}
        r = cohort_rows.c
        query = sa.select(r.position, r.object_id, r.at, r.statement_id, r.success, r.scaled).where(
            r.cohort_key == cohort.key,
            r.position.is_not(None),
            r.object_id.in_(sorted(wanted)),
            sa.or_(r.success.is_not(None), r.scaled.is_not(None)),
        )
        with self.engine.connect() as conn:
            results = sorted(conn.execute(query).all(), key=lambda row: (row.at, row.statement_id))
        latest_success: dict[int, dict[str, bool]] = defaultdict(dict)
        latest_scaled: dict[int, dict[str, float]] = defaultdict(dict)
        self_scores: dict[int, list[float]] = defaultdict(list)
        for r in results:
            if r.success is not None:
                latest_success[r.position][r.object_id] = bool(r.success)
            if r.scaled is not None:
                latest_scaled[r.position][r.object_id] = float(r.scaled)
                if r.object_id in self_items:
                    self_scores[r.position].append(float(r.scaled))
        rows = []
        for position, agent in enumerate(cohort.members):
            outcomes = [latest_success[position][a] for a in assessments if a in latest_success[position]]
            scores = latest_scaled[position]
            own = self_scores[position]
            delta = None
            if pre is not None and post is not None and pre in scores and post in scores:
                delta = scores[post] - scores[pre]
            rows.append(
                {
                    "member": agent,
                    "assessments_attempted": len(outcomes),
                    "assessments_passed": sum(1 for o in outcomes if o),
                    "mean_scaled_score": _mean(scores[a] for a in assessments if a in scores),
                    "self_assessment": {
                        "first": own[0] if own else None,
                        "latest": own[-1] if own else None,
                        "count": len(own),
                    },
                    "pre_post_delta": delta,
                }
            )
        attempted = sum(r["assessments_attempted"] for r in rows)
        passed = sum(r["assessments_passed"] for r in rows)
        summary = {
            "pass_rate": passed / attempted if attempted else None,
            "mean_scaled_score": _mean(r["mean_scaled_score"] for r in rows if r["mean_scaled_score"] is not None),
            "mean_self_assessment_change": _mean(
                r["self_assessment"]["latest"] - r["self_assessment"]["first"] for r in rows if r["self_assessment"]["count"]
            ),
            "mean_pre_post_delta": _mean(r["pre_post_delta"] for r in rows if r["pre_post_delta"] is not None),
        }
        return {"cohort": cohort.key, "members": rows, "summary": summary}


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _weeks(start: date, end: date) -> list[str]:
    """Labels of every ISO week from the one holding ``start`` to the one holding ``end``."""
    monday = start - timedelta(days=start.weekday())
    labels = []
    while monday <= end:
        labels.append(iso_week(monday))
        monday += timedelta(days=7)
    return labels
