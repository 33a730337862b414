"""``python -m sqlchat`` is the ``sqlchat`` command."""

import sys

from sqlchat.cli import main

sys.exit(main())
