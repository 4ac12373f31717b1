"""``python -m denbi_jupyter`` runs the command line."""

import sys

from denbi_jupyter.cli import main

sys.exit(main())
