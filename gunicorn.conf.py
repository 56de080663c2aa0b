"""gunicorn's settings, read from the working directory when the Procfile's server starts.

The Procfile names only where to listen and how many workers; everything about how a worker serves is
here, with the measurements behind it (docs/operations.md).
"""

import ctypes
import ctypes.util
import functools
import logging
import os
import shutil
import socket
import struct
import tempfile

import captioner  # noqa: F401  (first, before anything imports NumPy: it sets the serving thread limits)

# Threads, not sync workers: a sync worker holds one connection until its whole body has arrived, so four
# clients that sent their headers and stalled left both of a Basic dyno's workers waiting and the site
# answered nobody (gunicorn's docs ask for a buffering proxy in front of sync workers; Heroku's router does
# not buffer request bodies). With threads, a stalled upload ties up a thread; the photos' work itself runs
# at most two at a time per worker (captioner.serving.PHOTOS_AT_ONCE), so memory stays bounded. Eight
# threads: a worker still has free ones when several stalled clients land on it. Measured at concurrency 8
# (benchmarks/bench_workers.py): 38.0 requests/s against 38.6 for sync workers, and with four stalled uploads
# the others are answered in 0.05 s instead of not at all.
worker_class = "gthread"
threads = 8
# Heroku's router gives up on a request after 30 s. A threaded worker's main loop reports in between
# requests, so this only catches a worker whose loop has hung, and restarts it well before the router would
# have given up on it; requests themselves are kept short by the API's limits (app.py: grid, pixels).
timeout = 20
# On a deploy, Heroku sends SIGTERM and kills what is still running 30 s later: a request in flight is
# finished within this, a connection that is merely open is closed.
graceful_timeout = 20
# glibc gives each thread that allocates its own malloc arena, and each keeps what it once held: with eight
# threads taking turns on the photos, a worker grew to 213-226 MB after 1,000 captions, against 184-194 MB
# for a sync worker. Threads share one arena here: 185-209 MB (the photos' work runs two at a time at most).
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
MALLOC_ARENAS = int(os.environ.get("CAPTIONER_MALLOC_ARENAS", 1))
# Blocks of this many bytes or more are mapped apart from the heap, and unmapped as soon as they are freed. glibc
# raises its threshold (up to 32 MB) each time such a block is freed, after which the text reader's large tensors
# are carved from the heap, where what they leave cannot always be handed back. One worker, a load with one image of
# text in five (benchmarks/load_test.py --text 4, c=8): glibc's own rule, 496 MB with the master at the highest
# moment, 8.9 requests/s; 16 MB, 464 MB and 8.2; 8 MB, 426 MB and 7.7; 4 MB, 382 MB and 5.1 (each mapping's pages
# are new, and faulted in again). 0 leaves glibc's own rule.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = int(os.environ.get("CAPTIONER_MMAP_THRESHOLD", 8 << 20))
# gunicorn's control socket (for gunicornc) would sit in $HOME; nothing here uses it, and two servers on one
# machine (the tests) would share its path.
control_socket_disable = True
# A client that sends nothing for this long, in its headers or its body, is cut off (see when_ready).
RECEIVE_TIMEOUT_S = 10


def on_starting(server):
    """Check the model's files once, in the master, before any worker forks.

    A worker that cannot load the model also stops the server (exit status 4), but with several workers
    they race to halt the master and gunicorn prints its own traceback. Checked here first, a missing or
    damaged file stops the server with one line, and the master stays small: it reads the files' digests,
    it loads no model, and imports no more than the model folder's module (no NumPy, Pillow or Flask: the
    master held 49 MB when it imported the app, 26 MB now).
    """
    from captioner.model_folder import default_model_dir, exit_on_model_error, load_card

    with exit_on_model_error():
        load_card(default_model_dir())
    # Workers take turns at memory-heavy work (a large decode, reading text) through a lock file
    # (captioner.io.heavy_work), so that two never hold a 40-megapixel image at once; a folder for each server,
    # so that two servers on one machine (the tests) do not wait for each other. Forked workers inherit it.
    if not os.environ.get("CAPTIONER_LOCK_DIR"):
        os.environ["CAPTIONER_LOCK_DIR"] = server.lock_dir = tempfile.mkdtemp(prefix="captioner-locks-")


def on_exit(server):
    """Remove the lock folder on_starting made."""
    if getattr(server, "lock_dir", None):
        shutil.rmtree(server.lock_dir, ignore_errors=True)


def when_ready(server):
    """Give every connection a receive timeout, so that a stalled client cannot hold a thread for ever.

    gunicorn has no read timeout of its own for a request under way: a thread blocks on the socket until the
    client sends more. Linux gives an accepted socket the listening socket's SO_RCVTIMEO, so set there, a
    read that waits longer than RECEIVE_TIMEOUT_S fails; app.py answers a body cut off that way with 408.
    """
    seconds = struct.pack("ll", RECEIVE_TIMEOUT_S, 0)  # struct timeval
    for listener in server.LISTENERS:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, seconds)


@functools.lru_cache(maxsize=1)
def libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"))  # find_library runs ldconfig: once, not per request


def post_fork(server, worker):
    """Before the worker starts its threads: one malloc arena for all of them (see MALLOC_ARENAS), and large blocks
    mapped apart (see MMAP_THRESHOLD)."""
    libc().mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    if MMAP_THRESHOLD:
        libc().mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


# After every upload, once its answer is sent, the worker hands the heap's free pages back to the system: otherwise
# what a photo's work once held (its decoding, the encoder's and the person detectors' inputs) stays in the
# worker's RSS. Trimming only after big uploads, two workers held 502-544 MB at the end of a load of 400 captions;
# after every one, 428 MB (benchmarks/load_test.py, docs/operations.md), for about 0.8 ms of a thread's time.


def post_request(worker, req, environ, resp):
    if environ.get("REQUEST_METHOD") == "POST":
        libc().malloc_trim(0)


def post_worker_init(worker):
    worker.log.error_log.addFilter(StalledClientNote())


class StalledClientNote(logging.Filter):
    """gunicorn logs a client cut off by the receive timeout as a socket error with its traceback; it is
    the timeout doing its job, so one line says so instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], BlockingIOError):
            record.msg, record.args = "closed a connection that sent nothing for %d s", (RECEIVE_TIMEOUT_S,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True
