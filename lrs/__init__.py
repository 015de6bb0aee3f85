"""Polku's LRS: the composition root and what it puts together.

At this level: ``app.py`` (the composition root: ``create_app(settings, services)``, which builds the
services once, registers the HTTP layer and the dashboard, and starts the runner beside the server
in the embedded mode), ``worker.py`` (the projection runner's hooks, attached in one order, for the
server and ``polku project``), ``services.py`` (what a running Polku holds), ``server.py`` (waitress
or gunicorn), ``errors.py`` (the one error hierarchy). Below, one package per concern: ``config``,
``stores``, ``shapes`` and ``storage`` at the bottom; the core, ``statements``, ``cohorts`` and
``personal_data``; ``ops`` (operating); the HTTP layer ``http``; the command line ``cli``. Each
package's docstring says what it may import; pyproject.toml's import-linter contracts check it.
"""
