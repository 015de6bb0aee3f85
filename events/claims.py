"""Claims: the write side's guard for keys that must never mean two different things.

Before an event is appended, the writer claims its key with a fingerprint of its content. The
first claim of a key wins; a later claim with the same fingerprint is ``SAME`` (appending again
is harmless, projections apply one key once), a later one with another fingerprint is
``DIFFERENT`` and must be refused. The unique constraint decides, so two writers on two hosts
claiming the same key at the same moment cannot both win. A batch is claimed in one
transaction: all of it, or nothing.

The registry is not a read model: it holds no content, only fingerprints, and can be refilled
from the log.
"""

from __future__ import annotations

import enum
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from events.log import LogUnavailable

metadata = sa.MetaData()  # made and changed by the migrations (lrs/migrations), never created here

claims = sa.Table(
    "polku_claims",
    metadata,
    sa.Column("namespace", sa.String(50), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    # when the latest write of this key began, until a projection has applied it (NULL then)
    sa.Column("in_flight_since", sa.String(40), nullable=True),
    sa.Index("polku_claims_in_flight", "in_flight_since"),
)

#: The namespace of statement ids.
STATEMENT_IDS = "statement-id"


class Claim(enum.Enum):
    NEW = "new"
    SAME = "same"
    DIFFERENT = "different"


class ClaimRegistry:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def claim(self, namespace: str, fingerprints: Mapping[str, str], in_flight_since: str | None = None) -> dict[str, Claim]:
        """Claim every key of ``fingerprints`` at once.

        If any key is already held with another fingerprint, nothing is claimed and the result
        names it DIFFERENT; otherwise the new keys are held and each key is NEW or SAME. With
        ``in_flight_since``, every key is marked as written from that moment on, in the same
        transaction, until :func:`landed` clears it.
        """
        return self.claim_each(namespace, [fingerprints], in_flight_since)[0]

    def claim_each(
        self, namespace: str, groups: list[Mapping[str, str]], in_flight_since: str | None = None
    ) -> list[dict[str, Claim]]:
        """:meth:`claim` for several writers' groups of keys (no key in two groups) in one
        transaction: each group is all or nothing on its own, as if claimed alone."""
        for _attempt in range(5):
            try:
                with self._engine.begin() as conn:
                    return self._claim_each(conn, namespace, groups, in_flight_since)
            except IntegrityError:
                continue  # another writer claimed one of the keys between our look and our insert
            except (OperationalError, DBAPIError) as exc:
                raise LogUnavailable("the claim registry is unavailable") from exc
        raise LogUnavailable("the claim registry is too contended; retry")

    @staticmethod
    def _claim_each(
        conn: sa.Connection, namespace: str, groups: list[Mapping[str, str]], in_flight_since: str | None
    ) -> list[dict[str, Claim]]:
        keys = sorted({key for group in groups for key in group})
        held = {
            row.key: row.fingerprint
            for row in conn.execute(
                sa.select(claims.c.key, claims.c.fingerprint).where(claims.c.namespace == namespace).where(claims.c.key.in_(keys))
            )
        }
        results, new, same = [], [], []
        for group in groups:
            result = {
                key: Claim.NEW if key not in held else Claim.SAME if held[key] == fingerprint else Claim.DIFFERENT
                for key, fingerprint in group.items()
            }
            results.append(result)
            if any(c is Claim.DIFFERENT for c in result.values()):
                continue  # this group claims nothing
            new += [{"namespace": namespace, "key": k, "fingerprint": group[k], "in_flight_since": in_flight_since}
                    for k, c in result.items() if c is Claim.NEW]
            same += [k for k, c in result.items() if c is Claim.SAME]
        if new:
            conn.execute(claims.insert(), new)
        if same and in_flight_since is not None:  # a retry is written again: in flight again
            conn.execute(
                claims.update().where(claims.c.namespace == namespace).where(claims.c.key.in_(same)).values(in_flight_since=in_flight_since)
            )
        return results

    def release(self, namespace: str, keys: list[str]) -> None:
        """Give back keys claimed NEW whose append then failed, so a retry is not refused."""
        with self._engine.begin() as conn:
            conn.execute(claims.delete().where(claims.c.namespace == namespace).where(claims.c.key.in_(keys)))

    def oldest_in_flight(self, namespace: str, newer_than: str) -> str | None:
        """The start of the oldest write of ``namespace`` still in flight, ignoring marks older
        than ``newer_than`` (left by writes that failed or whose process died)."""
        query = (
            sa.select(sa.func.min(claims.c.in_flight_since))
            .where(claims.c.in_flight_since > newer_than)
            .where(claims.c.namespace == namespace)
        )
        try:
            with self._engine.connect() as conn:
                return conn.execute(query).scalar()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the claim registry is unavailable") from exc


def landed(conn: sa.Connection, namespace: str, key: str) -> None:
    """A projection applied the write of ``key`` (in its own transaction): no longer in flight."""
    landed_all(conn, namespace, [key])


def landed_all(conn: sa.Connection, namespace: str, keys: list[str]) -> None:
    """:func:`landed` for many keys, in one statement."""
    if keys:
        conn.execute(
            claims.update()
            .where(claims.c.namespace == namespace)
            .where(claims.c.key.in_(sorted(set(keys))))
            .where(claims.c.in_flight_since.is_not(None))
            .values(in_flight_since=None)
        )


#: The fingerprint an erased statement's id keeps: the id stays spent (a statement sent again
#: under it is refused as different content), and nothing of the content stays.
ERASED = "erased"


def erased(conn: sa.Connection, namespace: str, keys: list[str]) -> None:
    """The statements of ``keys`` were erased: their claims keep the id, not the content's hash."""
    if keys:
        conn.execute(
            claims.update().where(claims.c.namespace == namespace).where(claims.c.key.in_(sorted(set(keys))))
            .values(fingerprint=ERASED, in_flight_since=None)
        )
