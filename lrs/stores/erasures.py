"""The record of every erasure and retention run (table ``polku_erasures``): who was erased (by keyed
hash only), when, by whom, and what it reached. Written by lrs/personal_data/erasure.py and lrs/personal_data/retention.py; a
module of its own so that lrs/storage/schema.py can gather the table without importing the commands."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

erasures = sa.Table(
    "polku_erasures",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("requested", sa.String(40), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("finished", sa.String(40), nullable=True),
    sa.Column("kids", sa.Text, nullable=False),
    sa.Column("statements", sa.Integer, nullable=False),
    sa.Column("mentions", sa.Integer, nullable=False),
    sa.Column("documents", sa.Integer, nullable=False),
    sa.Column("attachments", sa.Integer, nullable=False),
    # where the agent.erased event sits on the log, once appended
    sa.Column("log_partition", sa.Integer, nullable=True),
    sa.Column("log_offset", sa.BigInteger, nullable=True),
    sa.Index("ix_polku_erasures_person", "person", "requested"),
)
