"""Keeping native libraries' chatter (TensorFlow's start-up and converter lines) off the terminal.

TensorFlow 2.21 writes its start-up lines from C++ before its log level is read, so setting
``TF_CPP_MIN_LOG_LEVEL`` is not enough; the converter also prints from C++ and Python. The only
reliable cure is to point file descriptors 1 and 2 elsewhere while such code runs. Commands that
do not need TensorFlow never import it (``liveness check`` runs on OpenCV and LiteRT).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Set by the CLI's ``--verbose``: let everything through.
VERBOSE = False


@contextmanager
def quiet_native_output(stdout: bool = True) -> Iterator[None]:
    """Send what the process writes to stderr (and ``stdout``) to /dev/null while the block runs,
    at the file-descriptor level; a no-op under ``--verbose``. Python exceptions still propagate
    and are reported by the caller after the block."""
    if VERBOSE:
        yield
        return
    targets = [2] + ([1] if stdout else [])
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in targets}
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in targets:
            os.dup2(null, fd)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(null)


def import_tensorflow():
    """``import tensorflow`` with its start-up lines hidden (unless ``--verbose``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_output(stdout=False):
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
    return tf
