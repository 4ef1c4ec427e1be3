"""python -m ferryd.cli"""

import sys

from ferryd.cli import main

sys.exit(main())
