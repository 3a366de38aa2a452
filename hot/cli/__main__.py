"""`python -m hot.cli`: the `hot` command without its console script."""

import sys

from hot.cli import main

sys.exit(main())
