"""Ticket bundles in the MLflow Model Registry: one registered-model version per bundle.

``register_bundle`` logs a bundle folder as a run's artifacts (experiment ``ltsweep-tickets``)
and makes it a version of the registered model, tagged with its axes and its bundle id, so that
``models:/NAME/VERSION`` names it (``models:/NAME`` names every version: a series by seed).
Registering the same bundle again returns its existing version. ``RegistryLocation`` reads a
version's files for ``storage.bundles`` (``models:`` is registered there when this module is
imported); MLflow itself is imported only when such a URI is opened.

The registry is the one at ``MLFLOW_TRACKING_URI`` (MLflow's own variable) unless a caller
passes another.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.storage.bundles import register_opener
from ltsweep.ticket_bundle import Bundle

EXPERIMENT = "ltsweep-tickets"
TAG_ID = "ltsweep.bundle_id"
ARTIFACT_DIR = "bundle"


def _client(tracking_uri: str | None):
    from mlflow import MlflowClient

    from ltsweep.tracking.client import _quiet_mlflow

    _quiet_mlflow()
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise UserError(
            "models:/ names need a registry: set MLFLOW_TRACKING_URI (or pass --tracking-uri)"
        )
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def axis_tags(bundle: Bundle) -> dict[str, str]:
    src = bundle.source
    return {
        TAG_ID: bundle.id,
        "ltsweep.model": bundle.model,
        "ltsweep.source_dataset": str(src.get("entry") or src["dataset"]),
        "ltsweep.registered_dataset": str(src["dataset"]),
        "ltsweep.source_optimizer": bundle.optimizer,
        "ltsweep.seed": str(bundle.seed),
        "ltsweep.levels": str(bundle.top),
    }


def register_bundle(
    local: Path, bundle: Bundle, name: str, tracking_uri: str | None = None
) -> tuple[str, bool]:
    """Register ``local`` (a bundle folder) as a version of ``name``; ``(models:/ URI, new)``."""
    from mlflow.exceptions import MlflowException

    client, uri = _client(tracking_uri)
    try:
        try:
            client.create_registered_model(name, description="ltsweep ticket series")
        except MlflowException as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
                raise
        for version in client.search_model_versions(f"name='{name}'"):
            if version.tags.get(TAG_ID) == bundle.id:
                return f"models:/{name}/{version.version}", False
        experiment = client.get_experiment_by_name(EXPERIMENT)
        exp_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment(EXPERIMENT, artifact_location=_artifacts_beside(uri))
        )
        run = client.create_run(exp_id, tags={TAG_ID: bundle.id}, run_name=bundle.label())
        client.log_artifacts(run.info.run_id, str(local), ARTIFACT_DIR)
        client.set_terminated(run.info.run_id)
        version = client.create_model_version(
            name,
            f"{run.info.artifact_uri}/{ARTIFACT_DIR}",
            run_id=run.info.run_id,
            tags=axis_tags(bundle),
            description=f"ticket bundle {bundle.id}: {bundle.label()}",
        )
    except MlflowException as exc:
        raise UserError(f"registry at {uri} refused {name!r}: {_first(exc)}") from None
    return f"models:/{name}/{version.version}", True


def _artifacts_beside(uri: str) -> str | None:
    """A SQLite registry keeps the bundles in ``mlartifacts/`` beside its database file (as a
    sweep's store does), not in the current directory; a server decides for itself."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri[len("sqlite:///") :]).resolve().parent / "mlartifacts").as_uri()


def _first(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


@dataclass
class RegistryLocation:
    """``models:/NAME/VERSION`` (one bundle) or ``models:/NAME`` (its versions, one per seed)."""

    uri: str
    tracking_uri: str | None = None

    def __post_init__(self) -> None:
        rest = self.uri[len("models:") :].lstrip("/")
        parts = [p for p in rest.split("/") if p]
        if not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise UserError(f"{self.uri}: write models:/NAME/VERSION (or models:/NAME)")
        self.name, self.version = parts[0], parts[1] if len(parts) == 2 else None
        self._source: str | None = None

    @property
    def where(self) -> str:
        return self.uri

    def _source_uri(self) -> str | None:
        if self.version is None:
            return None
        if self._source is None:
            from mlflow.exceptions import MlflowException

            client, uri = _client(self.tracking_uri)
            try:
                self._source = client.get_model_version(self.name, self.version).source
            except MlflowException:
                raise UserError(
                    f"{self.uri}: no such registered model version at {uri}; check the name "
                    "and version (the MLflow UI's Models page lists them)"
                ) from None
        return self._source

    def _download(self, rel: str, into: Path) -> Path | None:
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException

        source = self._source_uri()
        if source is None:
            return None
        _, uri = _client(self.tracking_uri)
        try:
            got = download_artifacts(
                artifact_uri=f"{source}/{rel}", dst_path=str(into), tracking_uri=uri
            )
        except (MlflowException, OSError):
            return None
        return Path(got)

    def read(self, rel: str, limit: int) -> bytes | None:
        tmp = Path(tempfile.mkdtemp(prefix="ltsweep-registry-"))
        try:
            path = self._download(rel, tmp)
            if path is None or not path.is_file():
                return None
            with open(path, "rb") as fh:
                return fh.read(limit + 1)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def fetch(self, rel: str, local: Path, limit: int) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="ltsweep-registry-", dir=local.parent))
        try:
            path = self._download(rel, tmp)
            if path is None:
                raise CorruptArtifactError(f"ticket file {self.uri}/{rel} is missing")
            os.replace(path, local)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def folders(self) -> list[str]:
        if self.version is not None:
            return []
        from mlflow.exceptions import MlflowException

        client, uri = _client(self.tracking_uri)
        try:
            client.get_registered_model(self.name)
            versions = client.search_model_versions(f"name='{self.name}'")
        except MlflowException:
            raise UserError(
                f"{self.uri}: no registered model {self.name!r} at {uri}; check the name"
            ) from None
        return sorted((v.version for v in versions), key=int)

    def child(self, name: str) -> Any:
        return RegistryLocation(f"models:/{self.name}/{name}", self.tracking_uri)


register_opener("models", RegistryLocation)
