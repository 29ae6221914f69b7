"""The lottery-ticket engine in plain PyTorch: no Ray, no MLflow.

Modules: ``models``, ``data``, ``masks``, ``pruning``, ``train``, ``imp``, ``transfer``,
``tickets``. Import them directly (``from ltsweep.core import imp``); this package imports nothing
heavy itself.
"""
