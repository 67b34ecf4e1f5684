"""The pipeline: the stages composed into the runs the ``validate`` and ``migrate`` commands start.

``inputs``            read files or the legacy API and validate them (``read_inputs``)
``migration``         extract → validate → mapping → load → verify for one ``migrate`` invocation
``migration_report``  the migration's report.json / report.html beside validate's
"""
