from ltsweep.cli import main

raise SystemExit(main())
