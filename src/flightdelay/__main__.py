"""`python -m flightdelay <stage>`: the entry point dvc.yaml uses."""

import sys

from flightdelay.cli import main

sys.exit(main())
