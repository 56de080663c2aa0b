"""gunicorn's settings, read from the working directory when the Procfile's server starts."""

import captioner  # noqa: F401  (first, before anything imports NumPy: it sets the serving thread limits)


def on_starting(server):
    """Check the model's files once, in the master, before any worker forks.

    A worker that cannot load the model also stops the server (exit status 4), but with several workers
    they race to halt the master and gunicorn prints its own traceback. Checked here first, a missing or
    damaged file stops the server with one line, and the master stays small: it reads the files' digests,
    it loads no model.
    """
    from app import check_model

    check_model()
