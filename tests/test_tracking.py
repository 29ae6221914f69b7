"""The MLflow Tracker and the trial runs it records (``ltsweep.tracking``): every trial recorded
once and completely, writes held and batched within MLflow's limits, nothing lost or doubled
when a flush fails, a driver is killed or resumed, or another process creates the experiment."""

from __future__ import annotations

import pytest

from tests.common.done_trials import recorded_trials


class _Counting:
    """The real MlflowClient, counting the calls that write to the store."""

    WRITES = ("create_run", "log_batch", "update_run", "set_terminated", "log_artifacts")

    def __init__(self, client) -> None:
        self.client, self.calls = client, []

    def __getattr__(self, name):
        if name in self.WRITES:
            self.calls.append(name)
        return getattr(self.client, name)


def test_recording_is_complete_idempotent_and_batched(tmp_path) -> None:
    from ltsweep.tracking import schema as S
    from ltsweep.tracking import trial_runs
    from ltsweep.tracking.client import Tracker
    from ltsweep.tracking.trial_runs import record_dir

    paths, done = recorded_trials(tmp_path)
    (gen, gen_record), (xfer, xfer_record) = done
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "scale", tmp_path / "artifacts")  # not ./mlruns
    parent = tracker.find_or_create("sweep:scale", "sweep", {})
    trial_runs.finish_trial(tracker, gen, gen_record, parent, record_dir(paths, gen))
    counting = tracker.client = _Counting(tracker.client)
    trial_runs.start_trial(tracker, xfer, parent)
    trial_runs.log_live(tracker, xfer, {**xfer_record["history"][0], "step": 0})
    trial_runs.finish_trial(tracker, xfer, xfer_record, parent, record_dir(paths, xfer))
    assert counting.calls == ["create_run", "log_batch", "set_terminated"], (
        f"a transfer trial that ends within the flush interval took {len(counting.calls)} store "
        f"writes ({counting.calls}); its params and live epoch should go with the final batch: "
        "create, one batch, terminate"
    )
    # A second driver (nothing cached) records the same trials again: nothing may double.
    again = Tracker(uri, "scale", tmp_path / "artifacts")
    for trial, record in done:
        trial_runs.finish_trial(again, trial, record, parent, record_dir(paths, trial))
    client = again.client
    statuses = again.statuses()
    levels = gen.job.imp.levels + 1
    keys = [gen.key, xfer.key] + [f"{gen.key}/L{lv:02d}" for lv in range(levels)]
    assert all(statuses.get(k) == "FINISHED" for k in keys), f"not all FINISHED: {statuses}"
    for key in keys[1:]:
        run_id = again.find(key).info.run_id
        for metric in (*S.EPOCH_METRICS, S.FINAL_ACCURACY, S.BEST_ACCURACY):
            points = client.get_metric_history(run_id, metric)
            assert len(points) == 1, f"{key}: {metric} has {len(points)} points, want 1"
    gen_run = client.get_run(again.find(gen.key).info.run_id)
    shas = [t for t in gen_run.data.tags if t.startswith(S.PREFIX + "ticket_sha256.level_")]
    assert len(shas) == levels, f"generation run has {len(shas)} ticket tags of {levels}"
    arts = [a.path for a in client.list_artifacts(gen_run.info.run_id, "tickets")]
    assert len(arts) == levels, f"generation run has {len(arts)} ticket artifacts of {levels}"
    xfer_tags = client.get_run(again.find(xfer.key).info.run_id).data.tags
    assert xfer_tags.get(S.PREFIX + "ticket_sha256") == xfer_record["ticket_sha256"], (
        "the transfer run lost its ticket hash tag"
    )
    assert S.TAG_DEVICE in xfer_tags, "the transfer run lost its where/when tags"


def test_a_tracker_uses_the_experiment_another_process_created_since_it_looked(
    tmp_path, monkeypatch
) -> None:
    """`ltsweep status` polled while a `ray job submit` sweep started: both found no experiment,
    both created it, and the driver died on MLflow's RESOURCE_ALREADY_EXISTS (test_multinode's
    job test, 1 run in 2). Here the other process's create lands between look-up and create."""
    from mlflow import MlflowClient

    from ltsweep.tracking import schema as S
    from ltsweep.tracking.client import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    name = S.experiment_name("race")
    real_lookup = MlflowClient.get_experiment_by_name
    raced = []

    def lookup_then_lose_the_race(self, wanted):
        found = real_lookup(self, wanted)
        if found is None and not raced:  # the other process creates it right after we looked
            raced.append(MlflowClient(tracking_uri=uri).create_experiment(wanted))
        return found

    monkeypatch.setattr(MlflowClient, "get_experiment_by_name", lookup_then_lose_the_race)
    tracker = Tracker(uri, "race", tmp_path / "artifacts")
    assert raced, "the race was not staged: the experiment existed before the tracker looked"
    assert tracker.experiment_id == raced[0] == real_lookup(tracker.client, name).experiment_id, (
        "the tracker did not take the experiment the other process created"
    )


def test_held_params_and_live_epochs_reach_the_store_once_flushed(tmp_path) -> None:
    """A long trial: its params and live epochs are held at most a flush interval, then sent
    in one batch; its final record later adds nothing twice."""
    from ltsweep.tracking import schema as S
    from ltsweep.tracking import trial_runs
    from ltsweep.tracking.client import Tracker
    from ltsweep.tracking.trial_runs import record_dir

    paths, done = recorded_trials(tmp_path)
    (gen, gen_record), (xfer, xfer_record) = done
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "held", tmp_path / "artifacts")
    parent = tracker.find_or_create("sweep:held", "sweep", {})
    trial_runs.finish_trial(tracker, gen, gen_record, parent, record_dir(paths, gen))
    run_id = trial_runs.start_trial(tracker, xfer, parent)
    trial_runs.log_live(tracker, xfer, {**xfer_record["history"][0], "step": 0})
    stored = tracker.client.get_run(run_id).data
    assert not stored.params and not stored.metrics, (
        f"held writes reached the store before a flush: {stored.params} {stored.metrics}"
    )
    assert not tracker.holds(3600.0) and tracker.holds(0.0), "holds() ignores the writes' age"
    counting = tracker.client = _Counting(tracker.client)
    assert tracker.flush_held(0.0) == 1 and counting.calls == ["log_batch"], (
        f"the flush sent {counting.calls}, want one log_batch"
    )
    stored = tracker.client.get_run(run_id).data
    assert stored.params.get("ticket.source_key") == gen.key, f"params not sent: {stored.params}"
    assert "test_accuracy" in stored.metrics, f"live epoch not sent: {stored.metrics}"
    trial_runs.finish_trial(tracker, xfer, xfer_record, parent, record_dir(paths, xfer))
    for metric in (*S.EPOCH_METRICS, S.FINAL_ACCURACY):
        points = tracker.client.get_metric_history(run_id, metric)
        assert len(points) == 1, f"{metric}: {len(points)} points after flush + finish, want 1"
    assert tracker.status(xfer.key) == "FINISHED"


class _FailingOnce(_Counting):
    """The real client, whose next ``log_batch`` fails as a dropped connection would."""

    def __init__(self, client, reached: bool) -> None:
        super().__init__(client)
        self.reached, self.armed = reached, True

    def log_batch(self, run_id, **entities):
        if self.armed:
            self.armed = False
            if self.reached:  # the server stored it, then the answer was lost
                self.client.log_batch(run_id, **entities)
            raise ConnectionError("Connection aborted")
        return self.client.log_batch(run_id, **entities)


@pytest.mark.parametrize("reached", [False, True], ids=["lost", "stored-answer-lost"])
def test_a_failed_flush_keeps_the_held_writes_and_the_retry_doubles_nothing(
    tmp_path, reached: bool
) -> None:
    from ltsweep.tracking.client import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "held")
    run_id = tracker.find_or_create("k", "k", {}, {"lr": 0.1}, hold=True)
    tracker.log_metrics(run_id, [("test_accuracy", 0.5, 0), ("lr", 0.1, 0)], hold=True)
    tracker.log_metrics(run_id, [("test_accuracy", 0.6, 1), ("lr", 0.1, 1)], hold=True)
    tracker.client = _FailingOnce(tracker.client, reached)
    with pytest.raises(ConnectionError):
        tracker.flush_held()
    assert tracker.holds(), "a failed flush dropped the held writes"
    tracker.write(run_id, [("final_test_accuracy", 0.6, 1)], once=True)  # the outbox's retry
    for metric, want in (("test_accuracy", [0, 1]), ("lr", [0, 1]), ("final_test_accuracy", [1])):
        steps = sorted(m.step for m in tracker.client.get_metric_history(run_id, metric))
        assert steps == want, f"{metric}: steps {steps} after a failed flush and its retry"
    assert tracker.client.get_run(run_id).data.params == {"lr": "0.1"}
    assert not tracker.holds(), "held writes left after a successful retry"


def test_params_held_by_a_killed_driver_reach_the_run_on_resume(tmp_path) -> None:
    """A driver killed within the flush interval of a trial's start took the trial's params
    with it: the next driver finds the run without params and sends them with its next write."""
    from ltsweep.tracking.client import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    killed = Tracker(uri, "resume")
    run_id = killed.find_or_create("k", "k", {}, {"lr": 0.1, "seed": 3}, hold=True)
    assert not killed.client.get_run(run_id).data.params, "params were not held"
    del killed  # SIGKILL: nothing flushed
    again = Tracker(uri, "resume")
    again.statuses()  # what a resumed run does first: every run, from one query
    assert again.find_or_create("k", "k", {}, {"lr": 0.1, "seed": 3}, hold=True) == run_id
    again.write(run_id, [("test_accuracy", 0.5, 0)])
    params = again.client.get_run(run_id).data.params
    assert params == {"lr": "0.1", "seed": "3"}, f"the resumed run's params: {params}"
    third = Tracker(uri, "resume")  # a run that has its params gets nothing held again
    third.find_or_create("k", "k", {}, {"lr": 0.1, "seed": 3}, hold=True)
    assert not third.holds(), "params held again for a run that has them"


def test_batches_keep_within_mlflow_limits_and_lose_nothing() -> None:
    from mlflow.utils.validation import (
        MAX_ENTITIES_PER_BATCH,
        MAX_METRICS_PER_BATCH,
        MAX_PARAMS_TAGS_PER_BATCH,
    )

    from ltsweep.tracking.client import batches

    metrics, params, tags = list(range(1201)), list(range(101)), list(range(205))
    out = list(batches(metrics, params, tags))
    for m, p, t in out:
        assert len(m) <= MAX_METRICS_PER_BATCH and len(m) + len(p) + len(t) <= (
            MAX_ENTITIES_PER_BATCH
        ), f"a batch of {len(m)} metrics, {len(p)} params, {len(t)} tags exceeds MLflow's limits"
        assert max(len(p), len(t)) <= MAX_PARAMS_TAGS_PER_BATCH, (
            f"a batch of {len(p)} params / {len(t)} tags exceeds MLflow's limit"
        )
    joined = [[x for b in out for x in b[i]] for i in range(3)]
    assert joined == [metrics, params, tags], "batches dropped, reordered or doubled entities"
    assert list(batches([], [], [])) == [([], [], [])], "an empty write is one empty batch"


def test_a_resumed_driver_flushes_held_rows_without_reading_the_store(tmp_path) -> None:
    """A run found (not created) by this driver: its held live epochs were never sent, so a
    flush is one write and no read (reading every metric's history per flush grew with it)."""
    from ltsweep.tracking.client import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = Tracker(uri, "resumed")
    run_id = first.find_or_create("k", "k", {}, {"lr": 0.1})
    first.log_metrics(run_id, [("test_accuracy", 0.5, 0)])
    again = Tracker(uri, "resumed")
    again.statuses()
    again.find_or_create("k", "k", {}, {"lr": 0.1}, hold=True)
    again.log_metrics(run_id, [("test_accuracy", 0.6, 1), ("lr", 0.1, 1)], hold=True)
    reads = []
    client = again.client

    class Reading(_Counting):
        def get_metric_history(self, *args, **kwargs):
            reads.append(args)
            return client.get_metric_history(*args, **kwargs)

    again.client = Reading(client)
    again.flush_held()
    assert again.client.calls == ["log_batch"] and not reads, (
        f"a resumed driver's flush made {again.client.calls} writes and {len(reads)} reads"
    )
    steps = sorted(m.step for m in client.get_metric_history(run_id, "test_accuracy"))
    assert steps == [0, 1], f"test_accuracy steps after the resumed flush: {steps}"


def test_an_interrupt_after_a_stored_batch_doubles_nothing(tmp_path) -> None:
    """Ctrl-C lands after MLflow stored the batch but before the tracker knew: closing the
    runs sends what is held again, and the store must skip what it has."""
    from ltsweep.tracking.client import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "interrupt")
    run_id = tracker.find_or_create("k", "k", {}, {"lr": 0.1}, hold=True)
    tracker.log_metrics(run_id, [("test_accuracy", 0.5, 0), ("lr", 0.1, 0)], hold=True)
    client = tracker.client

    class Interrupted(_Counting):
        def log_batch(self, run_id, **entities):
            client.log_batch(run_id, **entities)
            raise KeyboardInterrupt

    tracker.client = Interrupted(client)
    with pytest.raises(KeyboardInterrupt):
        tracker.flush_held()
    tracker.client = client
    tracker.kill_stale()  # what `ltsweep run` does on its way out
    for metric in ("test_accuracy", "lr"):
        points = client.get_metric_history(run_id, metric)
        assert len(points) == 1, f"{metric}: {len(points)} points after interrupt + close"
    assert client.get_run(run_id).info.status == "KILLED"


def test_typed_axes_round_trip_through_tags() -> None:
    """Only ``tracking.axes`` spells a trial's typed record as MLflow tags: every field comes back
    with its type (seed and level ints, none where not applicable), and a store written before
    entries were recorded reads back with what it has."""
    import dataclasses

    from ltsweep.sweep.trial import GENERATE, TRANSFER, Entry, TrialAxes
    from ltsweep.tracking import axes as A
    from ltsweep.tracking import schema as S

    half = Entry("fashion_a", "sgd", "fashion_mnist", 10, "a", 8000, 8000, 10_000)
    folder = Entry("blank", "adam", "image_folder:0123456789ab", 3, None, None, 30, 9)
    imported = Entry(
        "digits@0a1b2c3d", "sgd", "digits", 10, None, None, 1347, None, "b-0123", "s3://lab/t"
    )
    cases = [
        TrialAxes(GENERATE, "same", "vgg_tiny", half, 0, half, None, True),
        TrialAxes(GENERATE, "dense", "vgg_tiny", half, 2, None, 0),
        TrialAxes(TRANSFER, "transferred", "resnet20", folder, 1, half, 3),
        TrialAxes(TRANSFER, "random", "resnet20", folder, 1, None, 4),
        TrialAxes(TRANSFER, "transferred", "vgg_tiny", half, 0, imported, 2),
    ]
    for axes in cases:
        tags = A.to_tags(axes)
        assert all(isinstance(v, str) and v != "" for v in tags.values()), tags
        assert A.from_tags(tags) == axes, f"{axes} came back as {A.from_tags(tags)}"
    old = {  # what a store written before the typed record holds
        S.TAG_STAGE: TRANSFER,
        S.TAG_KIND: "transferred",
        S.TAG_MODEL: "vgg_tiny",
        S.TAG_SOURCE_DATASET: "digits",
        S.TAG_SOURCE_OPTIMIZER: "sgd",
        S.TAG_TARGET_DATASET: "shapes",
        S.TAG_TARGET_OPTIMIZER: "sgd",
        S.TAG_LEVEL: "2",
        S.TAG_SEED: "1",
    }
    read = A.from_tags(old)
    assert read is not None and (read.level, read.seed) == (2, 1), read
    assert dataclasses.astuple(read.target)[2:] == ("shapes",) + (None,) * 7
    assert A.from_tags({S.TAG_ROLE: "sweep"}) is None, "a parent run has no axes"
