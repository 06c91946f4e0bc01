import sys

from deconstruct.cli import main

sys.exit(main())
