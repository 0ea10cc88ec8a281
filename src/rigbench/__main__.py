import sys

from rigbench.cli import main

sys.exit(main())
