"""``python -m liveness`` is the ``liveness`` command."""

from liveness.cli import main

raise SystemExit(main())
