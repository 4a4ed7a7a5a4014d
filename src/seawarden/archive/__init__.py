"""History archive: positions as Hive-partitioned GeoParquet (by UTC day and H3 cell),
statics as Parquet by day, queried with DuckDB.

Needs the ``archive`` extra (pyarrow, duckdb); nothing here is imported by the pipeline.
``seawarden.archive.writer`` writes, ``seawarden.archive.reader`` queries,
``seawarden.archive.cli`` adds ``seawarden archive`` and ``seawarden archive-query``.
"""
