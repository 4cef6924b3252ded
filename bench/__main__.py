"""Lets `python -m bench` run the benchmark driver."""

from bench.run import main

raise SystemExit(main())
