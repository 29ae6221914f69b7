"""Ticket bundles for tests: the session's tiny IMP run (``tiny_imp``) published as a folder,
and sweep files that import it."""

from __future__ import annotations

from pathlib import Path

import yaml


def publish_tiny_imp(tiny_imp, dest: Path) -> Path:
    """The tiny IMP run's series as one bundle folder at ``dest``."""
    from ltsweep.core.bundle_make import bundle_from_tickets
    from ltsweep.trial_layout import ticket_dir

    job, workdir, results = tiny_imp
    tickets = {lv: ticket_dir(workdir, lv) for lv in range(job.imp.levels + 1)}
    bundle_from_tickets(job, "digits", tickets, [r.__dict__ for r in results], dest)
    return dest


def import_sweep(path: Path, tickets: str, **overrides: object) -> Path:
    """A sweep importing ``tickets`` into digits/adam, vgg_tiny at 8 px as ``tiny_imp`` made
    them (2 levels at 50%); ``overrides`` replace top-level keys."""
    sweep: dict[str, object] = {
        "models": [{"name": "vgg_tiny"}],
        "datasets": {
            "digits": {
                "image_size": 8,
                "batch_size": 128,
                "schedule": {"epochs": 2, "milestones": [1]},
                "workers": 0,
            }
        },
        "optimizers": {"adam": {"lr": 0.002}},
        "sources": [{"tickets": tickets}],
        "targets": [{"dataset": "digits", "optimizer": "adam"}],
        "imp": {"levels": 2, "rate": 0.5, "rewind_epochs": 1},
        "seeds": [0],
        "resources": {"generate": {"cpu": 1}, "transfer": {"cpu": 1}},
        "retries": 0,
    }
    sweep.update(overrides)
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path
