"""Benchmarks of the kiosk against the raw libraries it is built on, run on this machine.

    .venv/bin/python -m bench                  # everything (about 10 minutes)
    .venv/bin/python -m bench --quick          # a smoke run (about a minute), e.g. in CI
    .venv/bin/python -m bench --json --out bench.json

Modules: :mod:`.frames` (the inputs), :mod:`.harness` (replay camera, kiosk assembly),
:mod:`.decode` (frames/s and per-stage times), :mod:`.commit` (check-in commit latency),
:mod:`.rss` (memory of a real ``kiosk run --simulate``), :mod:`.report` (statistics, tables).
"""
