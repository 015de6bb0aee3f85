"""What retention reads of the statement store: how many statements were stored before a cutoff
(all, or those on some activities), and the attachments only they carry.

The projections apply ``statements.expired`` themselves (projections/statements.py
``expire_statements``, the cohort and agent-name projections); lrs/personal_data/retention.py decides when to
append one and asks this reader whether anything is old enough. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from projections.statements import statement_activities, statement_attachments, statements


@dataclass(frozen=True)
class Held:
    """The statements stored before a cutoff, and the attachments (sha2) no younger one carries."""

    statements: int
    attachments: list[str]


@dataclass
class RetentionReader:
    engine: sa.Engine

    def held_before(self, before: str, activities: list[str] | None = None) -> Held:
        """The statements stored before ``before`` -- of them, with ``activities``, those one of
        whose activities (object, context, SubStatement) is among them: what a
        ``statements.expired`` event with this cutoff removes from the store."""
        s, a = statements, statement_attachments
        old = sa.select(s.c.id).where(s.c.stored < before)
        if activities is not None:
            t = statement_activities
            old = old.where(s.c.id.in_(sa.select(t.c.statement_id).where(t.c.activity.in_(sorted(set(activities))))))
        with self.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(old.subquery())).scalar() or 0
            if not count:
                return Held(0, [])
            theirs = set(conn.scalars(sa.select(a.c.sha2).where(a.c.statement_id.in_(old))))
            shared = set(conn.scalars(
                sa.select(a.c.sha2).where(a.c.sha2.in_(sorted(theirs)), a.c.statement_id.not_in(old))
            )) if theirs else set()
        return Held(int(count), sorted(theirs - shared))
