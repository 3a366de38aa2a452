"""Local tooling the command line, tests and benchmarks use: not part of the shared core.

``redis_server`` launches an embedded ``redis-server`` under a data dir; ``simulate`` writes
synthetic traffic into a landing zone.
"""
