"""``python -m sqlchat`` is the ``sqlchat`` command."""

import sys

from .cli import main

sys.exit(main())
