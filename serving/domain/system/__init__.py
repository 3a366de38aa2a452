"""Operations: liveness, readiness, Prometheus metrics and the benchmark baseline."""
