"""Developer tooling, installed with the ``dev`` extra: fuzzing, benchmarks, mutation testing, secret scan."""
