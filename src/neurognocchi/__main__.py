"""``python -m neurognocchi``: the same as the ``neurognocchi`` command."""

import sys

from neurognocchi.cli import main

sys.exit(main())
