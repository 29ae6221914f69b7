"""Planning a sweep, with no Ray and no MLflow: YAML file -> typed configuration -> trials.

Belongs here: the strict sweep-file schema (``config``), expanding it into keyed trials
(``plan``), what a trial is (``trial``), the order generation trials run in (``order``), finding
sweep files and output directories (``files``), what the plan finds on disk for its datasets
(``data_check``: image folders, class counts), the command-line context that loads them
(``context``), what a plan costs (``cost``, ``rates``) and where a sweep stands (``status``).
Does not belong here: running trials (``ltsweep.tune``), recording them (``ltsweep.tracking``)
or their files (``ltsweep.storage``).
"""
