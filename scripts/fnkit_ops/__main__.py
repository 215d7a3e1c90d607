import sys

from fnkit_ops.cli import main

sys.exit(main())
