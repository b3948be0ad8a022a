import sys

from xor_tui.cli import main

sys.exit(main())
