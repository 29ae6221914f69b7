"""Running a sweep on Ray: the only package that imports Ray.

Belongs here: the driver that runs both stages on Ray Tune (``driver``), the searcher that holds a
transfer until its ticket exists (``gate``), the scheduler and retry passes (``schedule``,
``retry``), the progress line and Tune callback (``progress``), the trainable that turns a trial
into a call of the core engine (``trainable``), Ray Train for multi-GPU generation
(``worker_group``) and Tune's view of a trial (``trial_table``). Does not belong here: the
training itself (``ltsweep.core``), MLflow calls (``ltsweep.tracking``), planning
(``ltsweep.sweep``).
"""
