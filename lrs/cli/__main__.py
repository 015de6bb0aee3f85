"""``python -m lrs.cli``: the ``polku`` command."""

import logging

from lrs.cli import main


logging.basicConfig(level=logging.INFO)
main()
