"""`python -m corpus`: the corpus layer's command line (see corpus/cli.py)."""

import sys

from corpus.cli import main

sys.exit(main())
