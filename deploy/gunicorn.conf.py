"""gunicorn configuration for Polku's HTTP workers.

    gunicorn -c deploy/gunicorn.conf.py 'lrs.app:create_app()'

Settings come from the same POLKU_ variables as `polku serve`. In the scale-out mode
(POLKU_KAFKA_BOOTSTRAP_SERVERS set) the workers only append and read; run the projection
workers separately with `polku project`.

gunicorn's threaded workers give a connection to a request thread as soon as it is readable, so
a client that trickles its request holds a thread: run them behind a buffering proxy (nginx
buffers request bodies by default), or serve each host with `polku serve` (one process,
waitress), which reads every request whole before a request thread sees it.
"""

import multiprocessing
import os

bind = f"{os.environ.get('POLKU_HOST', '0.0.0.0')}:{os.environ.get('POLKU_PORT', '8080')}"
workers = int(os.environ.get("POLKU_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("POLKU_THREADS", "8"))
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = os.environ.get("POLKU_LOG_LEVEL", "info").lower()
# Each worker builds its own app after the fork: no connection or producer is shared across processes.
preload_app = False
