"""Detection: rules run in Panther's engine, alerts grouped as Panther does, correlation rules."""
