"""`python -m workbench ...` is `workbench ...`; `accelerate launch -m workbench finetune` needs this form."""

from workbench.cli import main

raise SystemExit(main())
