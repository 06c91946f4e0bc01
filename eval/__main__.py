"""``python -m eval <suite> ...``: run an evaluation suite and write its report folder."""

from eval.cli import main

raise SystemExit(main())
