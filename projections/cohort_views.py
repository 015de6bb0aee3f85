"""The cohort views: progress, engagement and success, aggregated from ``cohort_rows``.

Read-only: nothing here writes. :mod:`projections.cohorts` keeps ``cohort_rows`` equal to the
facts each cohort counts under its current definition, so these queries only aggregate one
cohort's rows (SQL does the counting: a view of 100,000 statements moves aggregates, not rows)
and join them to the definitions as they are now (members, items, due dates). The metric
definitions are written out for analysts in ``docs/cohort-metrics.md``.

"Latest" and "first" order rows by (timestamp, statement id), in SQL window functions.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable

import sqlalchemy as sa

from projections.cohort_model import iso_week
from projections.cohorts import cohorts, member_keys, members, programme_items, programmes
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
    #: the programme's own retention in days (lrs/personal_data/retention.py), or None
    retention_days: int | None = None


@dataclass(frozen=True)
class Cohort:
    key: str
    name: str
    programme: str
    iri: str
    starts: str
    ends: str
    members: tuple[dict[str, Any], ...]


_NONE: frozenset[str] = frozenset()


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


class CohortViews:
    """Definitions and the progress, engagement and success views of one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # ---- definitions -------------------------------------------------------------------
    def linked_persons(self, person: str) -> set[str]:
        """Every person key a cohort defines as the same member as ``person`` (a member given with
        an address and a workspace account is one person): what an erasure of them reaches."""
        mine, theirs = member_keys.alias("mine"), member_keys.alias("theirs")
        query = (
            sa.select(theirs.c.ifi)
            .join(mine, sa.and_(mine.c.cohort_key == theirs.c.cohort_key, mine.c.position == theirs.c.position))
            .where(mine.c.ifi == person)
        )
        with self.engine.connect() as conn:
            return set(conn.scalars(query)) | {person}

    def programme(self, key: str) -> Programme | None:
        with self._snapshot() as conn:
            found = self._programmes(conn, programmes.c.key == key)
        return found[0] if found else None

    def programmes(self) -> list[Programme]:
        with self._snapshot() as conn:
            return self._programmes(conn, sa.true())

    @staticmethod
    def _programmes(conn: sa.Connection, where) -> list[Programme]:
        heads = conn.execute(sa.select(programmes).where(where).order_by(programmes.c.key)).all()
        items = conn.execute(
            sa.select(programme_items)
            .where(programme_items.c.programme_key.in_([h.key for h in heads]))
            .order_by(programme_items.c.programme_key, programme_items.c.position)
        ).all()
        by_key: dict[str, list[Item]] = defaultdict(list)
        for r in items:
            by_key[r.programme_key].append(Item(r.activity, r.title, r.kind, bool(r.required), r.due, r.measure))
        return [Programme(h.key, h.name, tuple(by_key[h.key]), h.retention_days) for h in heads]

    def cohort(self, key: str) -> Cohort | None:
        with self._snapshot() as conn:
            found = self._cohorts(conn, cohorts.c.key == key)
        return found[0] if found else None

    def cohorts(self) -> list[Cohort]:
        with self._snapshot() as conn:
            return self._cohorts(conn, sa.true())

    @staticmethod
    def _cohorts(conn: sa.Connection, where) -> list[Cohort]:
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

    def _snapshot(self) -> sa.Connection:
        """A connection whose reads see one state of the tables (PostgreSQL: REPEATABLE READ),
        so that a view never mixes a cohort's old member list with rows counted for its new one."""
        conn = self.engine.connect()
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        return conn

    def _definitions(self, conn: sa.Connection, key: str) -> tuple[Cohort, Programme] | None:
        found = self._cohorts(conn, cohorts.c.key == key)
        if not found:
            return None
        cohort = found[0]
        programme = self._programmes(conn, programmes.c.key == cohort.programme)
        return cohort, programme[0] if programme else Programme(cohort.programme, "", ())

    # ---- progress ----------------------------------------------------------------------
    def progress(self, key: str, as_of: date, states: bool = False) -> dict[str, Any] | None:
        """Who has completed which items by the end of ``as_of`` (UTC), and what is overdue.

        ``states``: also ``states``, member position -> {object: completed?} for every object a
        member has a counted statement on by then (False: started, not completed), read in the
        same query as the completions (the dashboard's matrix shows it, the API does not)."""
        with self._snapshot() as conn:
            return self._progress(conn, key, as_of, states)

    def _progress(self, conn: sa.Connection, key: str, as_of: date, states: bool = False) -> dict[str, Any] | None:
        found = self._definitions(conn, key)
        if found is None:
            return None
        cohort, programme = found
        r = cohort_rows.c
        mine = (r.cohort_key == cohort.key, r.position.is_not(None), r.day <= as_of.isoformat())
        done: dict[int, set[str]] = defaultdict(set)
        touched: dict[int, dict[str, bool]] = defaultdict(dict)
        if states:
            completes = sa.func.max(sa.case((r.completes.is_(True), 1), else_=0))
            grouped = sa.select(r.position, r.object_id, completes).where(*mine, r.object_id.is_not(None)).group_by(r.position, r.object_id)
            for position, activity, completed in conn.execute(grouped):
                touched[position][activity] = bool(completed)
                if completed:
                    done[position].add(activity)
        else:
            # (member, object) pairs completed, one row per member with its objects joined by a
            # newline (no IRI holds whitespace: schemas/rules.py): some 200 rows to fetch instead
            # of thousands; objects that are not items are dropped below, not in SQL, so that the
            # query reads one index
            pairs = sa.select(r.position, r.object_id).distinct().where(*mine, r.completes).subquery()
            done_query = sa.select(pairs.c.position, sa.func.aggregate_strings(pairs.c.object_id, "\n")).group_by(pairs.c.position)
            for position, activities in conn.execute(done_query).all():
                if activities:  # NULL when the member's only completions have no activity object
                    done[position] = set(activities.split("\n"))
        last = _last_active(conn, cohort.key, r.day <= as_of.isoformat())
        required = [i for i in programme.items if i.required]
        # due before as_of: an item due on as_of is not yet overdue
        due = [i.activity for i in required if i.due is not None and i.due < as_of.isoformat()]
        completed_by: Counter[str] = Counter()
        rows = []
        for position, agent in enumerate(cohort.members):
            completed = done.get(position, _NONE)
            completed_by.update(completed)
            k = sum(1 for i in required if i.activity in completed)
            rows.append(
                {
                    "member": agent,
                    "completed_required": k,
                    "progress": k / len(required) if required else None,
                    "overdue": [a for a in due if a not in completed],
                    "last_active": last.get(position),
                }
            )
        items = [{"activity": i.activity, "completed_by": completed_by[i.activity]} for i in programme.items]
        view = {"cohort": cohort.key, "as_of": as_of.isoformat(), "required_items": len(required), "members": rows, "items": items}
        if states:
            view["states"] = dict(touched)
        return view

    # ---- engagement --------------------------------------------------------------------
    def engagement(self, key: str, start: date | None = None, end: date | None = None) -> dict[str, Any] | None:
        """Weekly and per-member activity between ``start`` and ``end`` (inclusive UTC dates).

        Weeks run without gaps from the week of ``start`` to the week of ``end``; when either is
        not given it is the cohort's ``starts`` (``ends``), widened to the first (last) counted
        statement, and at most :data:`MAX_WEEKS` before ``end``.
        """
        with self._snapshot() as conn:
            return self._engagement(conn, key, start, end)

    def _engagement(self, conn: sa.Connection, key: str, start: date | None = None, end: date | None = None) -> dict[str, Any] | None:
        found = self._definitions(conn, key)
        if found is None:
            return None
        cohort, _programme = found
        r = cohort_rows.c
        window = [r.cohort_key == cohort.key]
        if start is not None:
            window.append(r.day >= start.isoformat())
        if end is not None:
            window.append(r.day <= end.isoformat())
        contributions = sa.func.count().filter(r.contributes)
        # members from the member index, weeks from the week index (one pass each: COUNT(DISTINCT)
        # over an index already in that order is cheaper than grouping in two levels, in SQLite and
        # PostgreSQL alike); each member's latest time, and the first and last day, by walking the
        # member index to the ends of each member's rows
        member_query = (
            sa.select(r.position, sa.func.count(), sa.func.count(sa.distinct(r.day)), contributions)
            .where(r.position.is_not(None), *window)
            .group_by(r.position)
        )
        week_query = sa.select(r.week, sa.func.count(), contributions, sa.func.count(sa.distinct(r.position))).where(*window).group_by(r.week)
        per_member = {row[0]: row for row in conn.execute(member_query).all()}
        per_week = {row[0]: row for row in conn.execute(week_query).all()}
        last = _last_active(conn, cohort.key, *window[1:])
        first_day = last_day = None
        if start is None or end is None:
            first_day, last_day = _first_and_last_day(conn, cohort.key, *window[1:])
        if start is None:
            start = min(d for d in (date.fromisoformat(cohort.starts), _day(first_day)) if d is not None)
        if end is None:
            end = max(d for d in (date.fromisoformat(cohort.ends), _day(last_day)) if d is not None)
        # a statement may say it happened in the year 1 or 9999: the weeks listed stay bounded
        if (end - start).days > MAX_WEEKS * 7:
            start = end - timedelta(weeks=MAX_WEEKS)
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
            got = per_member.get(position)
            rows.append(
                {
                    "member": agent,
                    "statements": int(got[1]) if got else 0,
                    "active_days": int(got[2]) if got else 0,
                    "contributions": int(got[3] or 0) if got else 0,
                    "last_active": last.get(position) if got else None,
                }
            )
        return {"cohort": cohort.key, "from": start.isoformat(), "to": end.isoformat(), "weeks": weeks, "members": rows}

    # ---- success -----------------------------------------------------------------------
    def success(self, key: str, by_assessment: bool = False) -> dict[str, Any] | None:
        """Assessment results, self-assessment trajectory and the pre/post change per member.

        ``by_assessment``: also ``assessments``, per assessment item the members who attempted
        and passed it and their latest scaled scores (the same latest rows; the dashboard shows
        them, the API does not)."""
        with self._snapshot() as conn:
            return self._success(conn, key, by_assessment)

    def _success(self, conn: sa.Connection, key: str, by_assessment: bool = False) -> dict[str, Any] | None:
        found = self._definitions(conn, key)
        if found is None:
            return None
        cohort, programme = found
        assessments = [i.activity for i in programme.items if i.kind == "assessment"]
        self_items = {i.activity for i in programme.items if i.kind == "self-assessment"}
        pre = next((i.activity for i in programme.items if i.measure == "pre"), None)
        post = next((i.activity for i in programme.items if i.measure == "post"), None)
        # each member's latest (first) row per item, found by walking the object index from its end
        # (start): a few index probes per member and item instead of ranking every row
        latest_success: dict[int, dict[str, bool]] = defaultdict(dict)
        for position, activity, value in conn.execute(_per_member_item(cohort, programme, assessments, _latest_of(cohort.key, "success"))):
            if value is not None:
                latest_success[position][activity] = bool(value)
        latest_scaled: dict[int, dict[str, float]] = defaultdict(dict)
        scored = assessments + [a for a in (pre, post) if a]
        for position, activity, value in conn.execute(_per_member_item(cohort, programme, scored, _latest_of(cohort.key, "scaled"))):
            if value is not None:
                latest_scaled[position][activity] = float(value)
        self_scores = _first_and_latest_scaled(conn, cohort.key, sorted(self_items))
        rows = []
        for position, agent in enumerate(cohort.members):
            outcomes = [latest_success[position][a] for a in assessments if a in latest_success[position]]
            scores = latest_scaled[position]
            delta = None
            if pre is not None and post is not None and pre in scores and post in scores:
                delta = scores[post] - scores[pre]
            rows.append(
                {
                    "member": agent,
                    "assessments_attempted": len(outcomes),
                    "assessments_passed": sum(1 for o in outcomes if o),
                    "mean_scaled_score": _mean(scores[a] for a in assessments if a in scores),
                    "self_assessment": self_scores.get(position, {"first": None, "latest": None, "count": 0}),
                    "pre_post_delta": delta,
                }
            )
        attempted = sum(r["assessments_attempted"] for r in rows)
        passed = sum(r["assessments_passed"] for r in rows)
        summary = {
            "pass_rate": passed / attempted if attempted else None,
            "mean_scaled_score": _mean(r["mean_scaled_score"] for r in rows if r["mean_scaled_score"] is not None),
            "mean_self_assessment_change": _mean(
                # a change needs two self-assessments: a member with fewer has none, and is left out
                r["self_assessment"]["latest"] - r["self_assessment"]["first"] for r in rows if r["self_assessment"]["count"] >= 2
            ),
            "mean_pre_post_delta": _mean(r["pre_post_delta"] for r in rows if r["pre_post_delta"] is not None),
        }
        view = {"cohort": cohort.key, "members": rows, "summary": summary}
        if by_assessment:
            view["assessments"] = {
                a: {
                    "attempted": sum(1 for p in latest_success.values() if a in p),
                    "passed": sum(1 for p in latest_success.values() if p.get(a)),
                    "scores": [p[a] for p in latest_scaled.values() if a in p],
                }
                for a in assessments
            }
        return view


def _last_active(conn: sa.Connection, key: str, *window: sa.ColumnElement) -> dict[int, str]:
    """member position -> the latest ``at`` of the member's rows in ``window``: per member one
    walk down the member index (ordered by day, then time) to its first row. ``at`` starts with
    its ``day``, so ordering by both is ordering by ``at``."""
    r = cohort_rows.c
    latest = (
        sa.select(r.at)
        .where(r.cohort_key == key, r.position == members.c.position, *window)
        .order_by(r.day.desc(), r.at.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = sa.select(members.c.position, latest).where(members.c.cohort_key == key)
    return {position: at for position, at in conn.execute(query).all() if at is not None}


def _first_and_last_day(conn: sa.Connection, key: str, *window: sa.ColumnElement) -> tuple[str | None, str | None]:
    """The first and last day of the cohort's rows in ``window``: the ends of each member's rows
    in the member index, and of the non-members' (position NULL)."""
    r = cohort_rows.c

    def end(*order: sa.ColumnElement) -> sa.ScalarSelect:
        return (
            sa.select(r.day)
            .where(r.cohort_key == key, r.position == members.c.position, *window)
            .order_by(*order)
            .limit(1)
            .scalar_subquery()
        )

    days = [d for pair in conn.execute(sa.select(end(r.day.asc()), end(r.day.desc())).where(members.c.cohort_key == key)).all() for d in pair]
    days += conn.execute(sa.select(sa.func.min(r.day), sa.func.max(r.day)).where(r.cohort_key == key, r.position.is_(None), *window)).one()
    days = [d for d in days if d is not None]
    return (min(days), max(days)) if days else (None, None)


def _probe(key: str, carrying: sa.ColumnElement, column: sa.ColumnElement, newest: bool) -> sa.ScalarSelect:
    """``column`` of a member's latest (``newest``) or first row on an item among those carrying
    ``carrying``, correlated to the member (``cohort_members``) and the item
    (``cohort_programme_items``): the object index (cohort, object, position, at, statement id)
    holds that row at one end of the member's range, so no rows are ranked or sorted."""
    r = cohort_rows.c
    order = (r.at.desc(), r.statement_id.desc()) if newest else (r.at.asc(), r.statement_id.asc())
    return (
        sa.select(column)
        .where(r.cohort_key == key, r.object_id == programme_items.c.activity, r.position == members.c.position, carrying.is_not(None))
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )


def _per_member_item(cohort: Cohort, programme: Programme, activities: list[str], *columns: sa.ColumnElement) -> sa.Select:
    """(member position, item, *columns) for every member of the cohort and every item of the
    programme in ``activities``."""
    return (
        sa.select(members.c.position, programme_items.c.activity, *columns)
        .select_from(members.join(programme_items, sa.true()))
        .where(
            members.c.cohort_key == cohort.key,
            programme_items.c.programme_key == programme.key,
            programme_items.c.activity.in_(activities),
        )
    )


def _latest_of(key: str, name: str) -> sa.ScalarSelect:
    """The value of ``cohort_rows.name`` on a member's latest row on an item that carries one."""
    return _probe(key, cohort_rows.c[name], cohort_rows.c[name], newest=True)


def _first_and_latest_scaled(conn: sa.Connection, key: str, activities: list[str]) -> dict[int, dict[str, Any]]:
    """member position -> {first, latest, count} of the member's scaled scores on any of
    ``activities``, in time order (ties by statement id): per member, the first and the latest
    of its few rows on those items, and their count."""
    if not activities:
        return {}
    r = cohort_rows.c
    mine = (r.cohort_key == key, r.position == members.c.position, r.object_id.in_(activities), r.scaled.is_not(None))

    def scaled(*order: sa.ColumnElement) -> sa.ScalarSelect:
        return sa.select(r.scaled).where(*mine).order_by(*order).limit(1).scalar_subquery()

    query = sa.select(
        members.c.position,
        scaled(r.at.asc(), r.statement_id.asc()),
        scaled(r.at.desc(), r.statement_id.desc()),
        sa.select(sa.func.count()).where(*mine).scalar_subquery(),
    ).where(members.c.cohort_key == key)
    return {
        position: {"first": float(first), "latest": float(latest), "count": int(n)}
        for position, first, latest, n in conn.execute(query).all()
        if n
    }


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


#: The most weeks an engagement view lists (about ten years): a longer span given is refused, a
#: longer span found (a statement timestamped in the year 1) shows its last MAX_WEEKS weeks.
MAX_WEEKS = 530


def _weeks(start: date, end: date) -> list[str]:
    """Labels of every ISO week from the one holding ``start`` to the one holding ``end``."""
    monday = start - timedelta(days=start.weekday())
    labels = []
    while monday <= end:
        labels.append(iso_week(monday))
        monday += timedelta(days=7)
    return labels
