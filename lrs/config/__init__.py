"""Configuration: the typed settings read once from the ``POLKU_`` environment (settings.py) and
the master key that wraps every person's data key (keys.py).

May import: ``events`` (limits it shares), the standard library. Nothing else of ``lrs``."""
