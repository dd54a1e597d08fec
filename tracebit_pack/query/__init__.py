"""Queries and pivots: PantherFlow parsed and run, the pivot queries generated and run on the lake."""
