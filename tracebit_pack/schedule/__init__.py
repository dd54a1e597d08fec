"""Time in the backtest: when Panther would have had each event (``arrival``), when each scheduled
query and correlation rule runs (``runs``), the lake as a run at time T sees it (``as_of``), and
the runs themselves (``scheduled``, ``correlation_runs``). docs/backtest-simulation.md explains
the model."""
