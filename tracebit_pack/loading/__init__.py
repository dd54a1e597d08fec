"""Loading: logs read and checked (``logs``) put into the lake (``lake``), the events the rules see kept.

Above both: the lake stores and runs SQL, the logs package reads files and checks events; this
package joins them (``ingest``, ``ingest_sql``, ``folder_lake``).
"""
