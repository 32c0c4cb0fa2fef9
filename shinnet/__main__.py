from shinnet.cli import main

raise SystemExit(main())
