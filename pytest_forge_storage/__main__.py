"""``python -m pytest_forge_storage serve``: same as the ``forge-storage-fake`` command."""

from __future__ import annotations

import sys

from pytest_forge_storage.cli import main

if __name__ == "__main__":
    sys.exit(main())
