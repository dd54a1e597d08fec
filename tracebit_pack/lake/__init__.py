"""The embedded data lake: DuckDB tables per log type, Panther's SQL macros, Snowflake SQL transpiled."""
