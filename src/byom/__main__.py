"""``python -m byom`` is the same as the ``byom`` command."""

import sys

from byom.cli import main

sys.exit(main())
