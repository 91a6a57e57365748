"""The ``stance`` command (and ``python -m stance``): Ctrl-C is one line from the first instant.

Python's own handler would raise KeyboardInterrupt inside the imports the
command line needs, and print their traceback; this module installs a handler
that exits with one line before importing anything, and gives Ctrl-C back to
the commands (which say what they kept) once they are loaded. From then on
SIGTERM (``kill``, ``timeout``, a scheduler) stops a command as Ctrl-C does, so
that a long ``stance score --record`` keeps and reports what it scored instead
of vanishing with it. Only the first stops it: the rest are ignored while it
stops (Ctrl-\\ still quits at once, and files are written whole either way).
"""

import signal
import sys


def _interrupted_while_starting(signum, frame):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the line is written whole however often Ctrl-C is pressed
    sys.stderr.write("error: interrupted before any work began; nothing was written\n")
    sys.exit(130)


def _stop_once(signum, frame):
    """Stop the command as Ctrl-C does, once: it is already stopping, so later signals are ignored and
    cannot cut short the line that says what was kept, nor turn exit 130 into death by signal."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is _stop_once:
            signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def main():
    import threading

    if sys.stdout is None:  # started with standard output closed (>&-): what a command prints would vanish
        sys.stderr and sys.stderr.write("error: standard output is closed; redirect it to a file, "
                                        "or to /dev/null to discard what the command prints\n")
        return 1
    empty = next((arg for arg in sys.argv[1:] if arg == "" or (arg.startswith("--") and arg.endswith("="))), None)
    if empty is not None:  # Path("") is ".": `stance score "$DIR"` with DIR unset would score the working folder
        sys.stderr.write(f"error: {empty + ' is given' if empty else 'an argument is'} empty, as a shell variable that "
                         "is not set gives; give its value, or leave it out\n")
        return 2

    main_thread = threading.current_thread() is threading.main_thread()  # only the main thread sets handlers
    caught = main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not with Ctrl-C ignored
    if caught:
        signal.signal(signal.SIGINT, _interrupted_while_starting)
    from stance.cli import app

    if caught:
        signal.signal(signal.SIGINT, _stop_once)
    if main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # an ignored SIGTERM stays ignored
        signal.signal(signal.SIGTERM, _stop_once)
    try:
        return app()
    except KeyboardInterrupt:  # while typer builds the command line, before any command runs
        _interrupted_while_starting(signal.SIGINT, None)


if __name__ == "__main__":
    sys.exit(main())
