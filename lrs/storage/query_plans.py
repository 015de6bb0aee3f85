"""The plans of the hot reads: what ``polku db check`` shows and the plan tests assert (issue 19).

A hot read is a read every request (or every projection pass) makes: the credential lookup, the
consistency watermark's oldest write in flight, a statement by id, every combination of the
GET /statements filters, the next page through ``more``, documents, the cohort views. Each is run
for real (the same code the server runs, on this database, with values taken from it) while the
SQL it sends is captured; each statement captured is then explained by the database's own
planner (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN (FORMAT JSON)``), and its plan judged:

* a full scan of a table that grows with the store is a problem: SQLite ``SCAN t``, PostgreSQL
  ``Seq Scan on t``. PostgreSQL is asked with ``enable_seqscan`` off: it rightly reads a table of
  a few thousand rows whole, and the question that matters as the table grows is whether an index
  can serve the read at all (a Seq Scan it still chooses means none can). A read whose every row matches and which stops at its page's limit (a page
  of all statements in stored order) may walk an index in order (``SCAN t USING INDEX i``);
* an index searched only on columns that do not tell rows apart is a problem: it reads every row
  of the value, as ``polku_claims``' primary key searched by namespace alone read every claim
  ever made (issue 19).

The reads are read-only: nothing here writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import sqlalchemy as sa

from events.claims import STATEMENT_IDS, ClaimRegistry
from lrs.stores.credentials import CredentialStore, credentials
from lrs.stores.documents import DocumentKey, DocumentStore, Scope, documents
from projections.cohort_views import CohortViews
from projections.cohorts import cohorts
from projections.statements import (
    StatementFilter,
    StatementReader,
    statement_activities,
    statement_agents,
    statements,
)

#: The tables that grow with the store, each with the columns that do not tell its rows apart
#: (an index searched on those alone reads a share of the whole table).
GROWING: dict[str, frozenset[str]] = {
    "polku_event_log": frozenset({"partition"}),
    "polku_claims": frozenset({"namespace"}),
    "polku_blobs": frozenset(),
    "polku_data_keys": frozenset(),
    "xapi_statements": frozenset({"voided", "verb_id"}),
    "xapi_statement_agents": frozenset({"is_primary"}),
    "xapi_statement_activities": frozenset({"is_primary"}),
    "xapi_statement_people": frozenset({"is_actor"}),
    "xapi_statement_attachments": frozenset(),
    "xapi_voids": frozenset(),
    "xapi_documents": frozenset({"kind"}),
    "xapi_agent_names": frozenset(),
    "xapi_activity_definitions": frozenset(),
    "cohort_rows": frozenset(),
    "cohort_facts": frozenset(),
    "cohort_fact_contexts": frozenset(),
    "cohort_voids": frozenset(),
}

#: Tables a hot read may scan on purpose, and why. ``xapi_statement_refs`` holds one row per
#: statement that targets another (voidings and StatementRefs), a small share of the store; the
#: filters' StatementRef rule (Communication 2.1.3) reads them all and looks each target up by its
#: id, which costs those rows, where reading the targets first cost every statement of a verb.
SCANNED_ON_PURPOSE: dict[str, str] = {
    "xapi_statement_refs": "one row per statement that targets another; the StatementRef rule reads them all",
}


@dataclass(frozen=True)
class HotRead:
    name: str
    run: Callable[[], Any]
    #: every row the read walks matches, and the read stops at its page's limit: an ordered walk
    #: of an index is bounded by the page, not by the store
    walks_in_order: bool = False
    #: the read is a page in an index's order, stopped at its limit: a walk of the index entries
    #: of one verb, in order, at the outermost loop, is bounded by the page
    paged: bool = False


@dataclass
class Plan:
    read: str
    sql: str
    lines: list[str]
    problems: list[str] = field(default_factory=list)


# ---- the reads -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Samples:
    """Values taken from the database itself, so that each read finds something."""

    statement_id: str = "00000000-0000-4000-8000-000000000000"
    stored: str = "2026-01-01T00:00:00.000000Z"
    verb: str = "http://adlnet.gov/expapi/verbs/completed"
    agent: str = "mbox:mailto:nobody@example.org"
    activity: str = "http://example.org/activities/none"
    registration: str = "00000000-0000-4000-8000-000000000001"
    credential: str = "0" * 20
    document: DocumentKey = DocumentKey(Scope("state", "http://example.org/activities/none", "mbox:mailto:nobody@example.org"), "none")
    cohort: str | None = None


def samples(engine: sa.Engine) -> Samples:
    """A statement's id, stored time, verb, agent, activity and registration, a credential, a
    document and a cohort, as the database holds them (defaults where it holds none)."""
    found: dict[str, Any] = {}
    s, a, t, d = statements, statement_agents, statement_activities, documents
    with engine.connect() as conn:
        row = conn.execute(sa.select(s.c.id, s.c.stored, s.c.verb_id).order_by(s.c.stored.desc(), s.c.id.desc()).limit(1)).first()
        if row is not None:
            found |= {"statement_id": row.id, "stored": row.stored, "verb": row.verb_id}
            agent = conn.execute(sa.select(a.c.agent).where(a.c.statement_id == row.id, a.c.is_primary.is_(True)).limit(1)).scalar()
            activity = conn.execute(sa.select(t.c.activity).where(t.c.statement_id == row.id, t.c.is_primary.is_(True)).limit(1)).scalar()
            found |= {k: v for k, v in (("agent", agent), ("activity", activity)) if v is not None}
        registration = conn.execute(
            sa.select(s.c.registration).where(s.c.registration.is_not(None)).order_by(s.c.stored.desc(), s.c.id.desc()).limit(1)
        ).scalar()
        if registration is not None:
            found["registration"] = registration
        credential = conn.execute(sa.select(credentials.c.key).limit(1)).scalar()
        if credential is not None:
            found["credential"] = credential
        row = conn.execute(sa.select(d.c.kind, d.c.activity_id, d.c.agent, d.c.registration, d.c.document_id).limit(1)).first()
        if row is not None:
            found["document"] = DocumentKey(Scope(row.kind, row.activity_id, row.agent), row.document_id, row.registration)
        found["cohort"] = conn.execute(sa.select(cohorts.c.key).order_by(cohorts.c.key).limit(1)).scalar()
    return Samples(**found)


def statement_filters(x: Samples) -> list[tuple[str, StatementFilter, bool]]:
    """(name, filter, walks in order) for every combination of agent, verb, activity and
    registration, each alone and together, with since/until, related_*, ascending; and none."""
    values = {"agent": x.agent, "verb": x.verb, "activity": x.activity, "registration": x.registration}
    names = list(values)
    found: list[tuple[str, StatementFilter, bool]] = [("no filter", StatementFilter(), True),
                                                       ("no filter, ascending", StatementFilter(ascending=True), True),
                                                       ("since", StatementFilter(since=x.stored), True),
                                                       ("until", StatementFilter(until=x.stored), True)]
    for mask in range(1, 1 << len(names)):
        chosen = {n: values[n] for i, n in enumerate(names) if mask & (1 << i)}
        label = "+".join(chosen)
        found.append((label, StatementFilter(**chosen), False))
        found.append((f"{label}+since", StatementFilter(**chosen, since=x.stored), False))
    found += [
        ("agent+verb+since+until", StatementFilter(agent=x.agent, verb=x.verb, since="2000-01-01T00:00:00Z", until=x.stored), False),
        ("agent, related_agents", StatementFilter(agent=x.agent, related_agents=True), False),
        ("activity, related_activities", StatementFilter(activity=x.activity, related_activities=True), False),
        ("agent+verb, ascending", StatementFilter(agent=x.agent, verb=x.verb, ascending=True), False),
        ("verb, ascending", StatementFilter(verb=x.verb, ascending=True), False),
    ]
    return found


def hot_reads(engine: sa.Engine, x: Samples | None = None) -> list[HotRead]:
    """Every hot read, bound to ``engine`` and to values from it."""
    x = x or samples(engine)
    reader = StatementReader(engine)
    documents_ = DocumentStore(engine)
    reads = [
        HotRead("credential lookup", lambda: CredentialStore(engine).get(x.credential)),
        HotRead("claim watermark (oldest write in flight)",
                lambda: ClaimRegistry(engine).oldest_in_flight(STATEMENT_IDS, newer_than="2000-01-01T00:00:00.000000Z")),
        HotRead("statement by id", lambda: reader.get(x.statement_id, voided=False)),
        HotRead("document by key", lambda: documents_.get(x.document)),
        HotRead("document ids of a scope", lambda: documents_.ids(x.document.scope)),
    ]
    for name, f, walks in statement_filters(x):
        reads.append(HotRead(f"statements: {name}", lambda f=f: reader.query(f, 10, max_bytes=10_000_000), walks, paged=True))
    after = (x.stored, x.statement_id)
    reads += [
        HotRead("statements: more (no filter)", lambda: reader.query(StatementFilter(), 10, after=after), True, paged=True),
        HotRead("statements: more (verb)", lambda: reader.query(StatementFilter(verb=x.verb), 10, after=after), paged=True),
        HotRead("statements: more (agent+verb)", lambda: reader.query(StatementFilter(agent=x.agent, verb=x.verb), 10, after=after),
                paged=True),
    ]
    if x.cohort is not None:
        views = CohortViews(engine)
        reads += [
            HotRead("cohort progress", lambda: views.progress(x.cohort, date.today())),
            HotRead("cohort engagement", lambda: views.engagement(x.cohort)),
            HotRead("cohort success", lambda: views.success(x.cohort)),
        ]
    return reads


# ---- capture, explain, judge -----------------------------------------------------------------

def captured(engine: sa.Engine, run: Callable[[], Any], reads_only: bool = True) -> list[tuple[str, Any]]:
    """The SELECTs (``reads_only``; else every statement) ``run`` sends to ``engine``, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if not reads_only or statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return sent


def explain(engine: sa.Engine, sql: str, parameters: Any) -> list[str] | list[dict]:
    """The planner's plan of one captured statement: SQLite's lines, or PostgreSQL's JSON plan."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            if engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, parameters)
                return [row[3] for row in cursor.fetchall()]
            # a table of a few thousand rows is rightly read whole; forbidding that where an
            # index could serve asks the question that matters as the table grows: can one?
            cursor.execute("SET enable_seqscan = off")
            try:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql, parameters)
                plan = cursor.fetchone()[0]
            finally:
                cursor.execute("RESET enable_seqscan")
            return plan if isinstance(plan, list) else json.loads(plan)
        finally:
            cursor.close()


_SQLITE_LINE = re.compile(r"^(SCAN|SEARCH) (\w+)(?: AS \w+)?(?: USING (?:COVERING )?(?:INDEX (\w+)|INTEGER PRIMARY KEY|PRIMARY KEY)(?: \((.*)\))?)?")
_CONDITION_COLUMN = re.compile(r"(\w+)\)?(?:::[\w ]+?)?\)?\s*(?:=|<|>|<=|>=|~~)")


def aliases(sql: str) -> dict[str, str]:
    """The tables of a statement's aliases (``xapi_statements AS target``): SQLite's plan names
    an aliased table by its alias alone."""
    return {alias: table for table, alias in re.findall(r"\b(\w+) AS (\w+)\b", sql) if table in GROWING}


def judge_sqlite(lines: list[str], walks_in_order: bool, paged: bool = False, aliased: dict[str, str] | None = None) -> list[str]:
    """A full scan of a growing table (an ordered walk of an index only for a read that walks in
    order); an index searched on non-selective columns alone, unless the read is a page and that
    search is its outermost loop, in the index's order (no sort after it): then the page stops it."""
    problems = []
    ordered = not any("TEMP B-TREE FOR ORDER BY" in line for line in lines)
    for position, line in enumerate(lines):
        match = _SQLITE_LINE.match(line)
        if not match:
            continue
        kind, table, index, condition = match.groups()
        table = (aliased or {}).get(table, table)
        if table not in GROWING:
            continue
        if kind == "SCAN" and not (walks_in_order and index):
            problems.append(f"full scan of {table}: {line}")
        elif kind == "SEARCH" and condition:
            columns = {re.split(r"[=<>]", c)[0].strip() for c in condition.split(" AND ")}
            if columns <= GROWING[table] and not (paged and position == 0 and ordered):
                problems.append(f"{table} searched on {', '.join(sorted(columns))} alone, which does not tell its rows apart: {line}")
    return problems


def _nodes(node: dict, parent: dict | None = None) -> list[tuple[dict, dict | None]]:
    """Every node of a PostgreSQL plan with its parent, top down."""
    found = [(node, parent)]
    for child in node.get("Plans", []):
        found += _nodes(child, node)
    return found


def plan_lines_postgresql(plan: list[dict]) -> list[str]:
    lines = []
    for node, _ in _nodes(plan[0]["Plan"]):
        text = node["Node Type"]
        if "Relation Name" in node:
            text += f" on {node['Relation Name']}"
        if "Index Name" in node:
            text += f" using {node['Index Name']}"
        if "Index Cond" in node:
            text += f" ({node['Index Cond']})"
        lines.append(text)
    return lines


def judge_postgresql(plan: list[dict], walks_in_order: bool, paged: bool = False) -> list[str]:
    """A sequential scan of a growing table; an index searched on non-selective columns alone;
    a whole index walked without a condition, unless the read walks in order or a Limit right
    above stops the walk (the planner chose it from the filter's statistics: a verb that a fifth
    of the statements carry is met every fifth entry of the stored-time index)."""
    problems = []
    for node, parent in _nodes(plan[0]["Plan"]):
        table = node.get("Relation Name") or (parent or {}).get("Relation Name")
        if table not in GROWING:
            continue
        if node["Node Type"] == "Seq Scan":
            problems.append(f"full scan of {table}: Seq Scan on {table}")
            continue
        if "Index Name" not in node or node["Node Type"] == "Bitmap Heap Scan":
            continue
        condition = node.get("Index Cond")
        if condition is None:
            if not walks_in_order and (parent or {}).get("Node Type") != "Limit":
                problems.append(f"walk of the whole index {node['Index Name']} of {table} without a condition")
            continue
        columns = set(_CONDITION_COLUMN.findall(condition))
        if columns and columns <= GROWING[table] and not (paged and (parent or {}).get("Node Type") == "Limit"):
            problems.append(f"{table} searched on {', '.join(sorted(columns))} alone, which does not tell its rows apart: {condition}")
    return problems


def plans(engine: sa.Engine, reads: list[HotRead] | None = None) -> list[Plan]:
    """Each hot read's statements, explained and judged."""
    found = []
    for read in reads if reads is not None else hot_reads(engine):
        for sql, parameters in captured(engine, read.run):
            explained = explain(engine, sql, parameters)
            if engine.dialect.name == "sqlite":
                lines, problems = list(explained), judge_sqlite(explained, read.walks_in_order, read.paged, aliases(sql))
            else:
                lines, problems = plan_lines_postgresql(explained), judge_postgresql(explained, read.walks_in_order, read.paged)
            found.append(Plan(read.name, sql, lines, problems))
    return found
