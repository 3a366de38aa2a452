"""`python -m hot.cli`: the `hot` command without its console script (the supervised child).

The command leaves through the last exit handler, not the interpreter's teardown: that frees
extension modules' objects in no fixed order, and DuckDB's binding (nanobind) then reports
what is still alive as some 40 lines of ``nanobind: leaked ...`` on stderr, which reads as a
crash. By then everything that matters is done: the command returned, non-daemon threads were
joined and the other exit handlers (servers stopped, logs flushed) ran.
"""

import atexit
import os
import sys

_exit_code = [1]  # what an uncaught exception exits with, until main() returns


@atexit.register  # first registered, so the last to run
def _leave() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code[0])


from hot.cli import main  # noqa: E402  (after the handler above, so that it runs last)

_exit_code[0] = main()
sys.exit(_exit_code[0])
