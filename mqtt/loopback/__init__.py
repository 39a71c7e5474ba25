"""Throwaway servers on loopback, on random free ports, started and stopped by whoever needs them:

- ``mosquitto``: a Mosquitto with the project's broker config (``bootstrap.sh run``'s simulation,
  the tests, the benchmarks), and ``free_port``;
- ``postgres``: a PostgreSQL cluster for the collector's PostgreSQL store (the tests and the
  benchmarks; the simulation stores centrally in SQLite).

Never a production server: the broker and the database a fleet uses are the operator's
(``docs/operator.md``).
"""
