"""The ``stance`` command (and ``python -m stance``): Ctrl-C is one line from the first instant.

Python's own handler would raise KeyboardInterrupt inside the imports the
command line needs, and print their traceback; this module installs a handler
that exits with one line before importing anything, and gives Ctrl-C back to
the commands (which say what they kept) once they are loaded.
"""

import signal
import sys


def _interrupted_while_starting(signum, frame):
    sys.stderr.write("error: interrupted before any work began; nothing was written\n")
    sys.exit(130)


def main():
    import threading

    caught = (threading.current_thread() is threading.main_thread()  # only the main thread sets handlers
              and signal.getsignal(signal.SIGINT) is signal.default_int_handler)  # not when started with Ctrl-C ignored
    if caught:
        signal.signal(signal.SIGINT, _interrupted_while_starting)
    from stance.cli import app

    if caught:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return app()


if __name__ == "__main__":
    sys.exit(main())
