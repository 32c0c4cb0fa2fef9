"""``python -m shinnet``: the ``shinnet`` command (see :mod:`shinnet.cli`)."""

import sys

try:
    from shinnet.cli import main
except KeyboardInterrupt:  # Ctrl-C while importing: same exit as during the work
    print("shinnet: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
