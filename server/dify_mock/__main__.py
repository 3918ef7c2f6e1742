import sys

from dify_mock.cli import main

sys.exit(main())
