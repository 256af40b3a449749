"""`python -m advisor`: the `tune-or-embed` command line."""

import sys

from advisor.cli import main

sys.exit(main())
