"""Throwaway servers on loopback for the tests and the benchmarks; never installed.

The tests' ``postgres`` fixture and the benchmarks' PostgreSQL rows both start one, so it belongs
to neither. It is not in the installed packages either: nothing the kiosk or the collector ships
runs it (the collector connects to a PostgreSQL the operator runs). The loopback Mosquitto is
different: ``bootstrap.sh run`` starts it for the simulation, so it ships as ``mqtt.broker.loopback``.
"""
