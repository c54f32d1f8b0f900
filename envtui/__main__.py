from envtui.cli import main

raise SystemExit(main())
