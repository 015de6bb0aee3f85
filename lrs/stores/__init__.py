"""The stores Polku keeps beside the log: the xAPI documents (state, activity and agent profiles;
documents.py), the credentials with their scopes (credentials.py) and the record of every erasure
(erasures.py). SQL lives here, with its tables.

May import: ``lrs.config``, ``lrs.errors``, ``events``, ``projections``, ``schemas``. Never the
HTTP layer (``lrs.http``), the dashboard or the command line."""
