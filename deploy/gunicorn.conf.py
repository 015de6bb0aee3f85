"""gunicorn configuration for Polku's HTTP workers.

    gunicorn -c deploy/gunicorn.conf.py 'lrs.app:create_app()'

Every setting comes from the one Settings object `polku serve` reads (lrs/config/settings.py, the
POLKU_ variables, same defaults: 127.0.0.1:8080, one worker; set POLKU_HOST=0.0.0.0 and
POLKU_WORKERS to listen wider and run more), through the same function (lrs/server.py
``gunicorn_options``): `polku serve --workers N` and this file run the same gunicorn.
`polku config` prints what is in force.

/metrics sums the workers' counts through PROMETHEUS_MULTIPROC_DIR (a fresh temporary folder
unless set), emptied here at start; a stopped worker's gauges are dropped by ``child_exit``.
gunicorn's control socket is one per port (POLKU_GUNICORN_CONTROL_SOCKET to choose, ``off``
for none), so two instances on one host do not take each other's.

In the scale-out mode (POLKU_KAFKA_BOOTSTRAP_SERVERS set) the workers only append and read; run
the projection workers separately with `polku project`.

gunicorn's threaded workers give a connection to a request thread as soon as it is readable, so
a client that trickles its request holds a thread: run them behind a buffering proxy (nginx
buffers request bodies by default), or serve each host with `polku serve` (one process,
waitress), which reads every request whole before a request thread sees it.
"""

from lrs.server import gunicorn_options, prepare_multiprocess, worker_exited
from lrs.config.settings import Settings

_settings = Settings.from_env()
prepare_multiprocess()  # before any worker imports prometheus_client
globals().update(gunicorn_options(_settings))


def child_exit(_server, worker):
    worker_exited(worker.pid)
