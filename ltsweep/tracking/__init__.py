"""Everything that talks to MLflow: the only package that imports it.

Belongs here: the client that finds or creates each trial's run by its key (``client``), the tag
and metric names every reader relies on (``schema``), what a trial's run records (``trial_runs``),
the writer process and its outbox for server outages (``writer``, ``outbox``), reading runs back
page by page (``search``), locating a sweep's store (``sweep_store``) and the MLflow UI's ready
view (``ui_view``). Does not belong here: Ray, planning, or the report's statistics.
"""
