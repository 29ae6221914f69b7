"""Ticket bundles (``ticket_bundle``, ``core.bundle_make``, ``storage.bundles``,
``tracking.bundle_registry``): a series made from a real IMP
run, read back from a folder, a real S3 API (moto on 127.0.0.1) and an MLflow server's model
registry (127.0.0.1), and every lie a bundle can tell refused in one line naming it."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.storage.bundles import fetch_level, find_series, write_bundle
from ltsweep.ticket_bundle import (
    BUNDLE_FILE,
    MAX_JSON_BYTES,
    bundle_id,
    parse_bundle,
    shape_mismatch,
)
from tests.common.bundles import publish_tiny_imp


@pytest.fixture(scope="module")
def bundle_dir(tiny_imp, tmp_path_factory) -> Path:
    """The tiny IMP run's series as a bundle folder."""
    return publish_tiny_imp(tiny_imp, tmp_path_factory.mktemp("bundle") / "digits-sgd" / "seed_0")


def _copy(bundle_dir: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy" / "seed_0"
    shutil.copytree(bundle_dir, dest)
    return dest


def _doc(folder: Path) -> dict:
    return json.loads((folder / BUNDLE_FILE).read_text())


def _rewrite(folder: Path, doc: dict, fix_id: bool = True) -> None:
    if fix_id:
        doc["id"] = bundle_id(
            doc["identity"], [(lv["level"], lv["sha256"]) for lv in doc["levels"]]
        )
    (folder / BUNDLE_FILE).write_text(json.dumps(doc))


def test_bundle_describes_the_series_and_its_files_are_the_tickets(tiny_imp, bundle_dir) -> None:
    from ltsweep.core.tickets import read_info
    from ltsweep.trial_layout import ticket_dir

    _, workdir, results = tiny_imp
    (found,) = find_series(str(bundle_dir.parent))
    b = found.bundle
    assert [lv.level for lv in b.levels] == [0, 1, 2], "one level file per IMP level"
    for lv in b.levels:
        assert lv.sha256 == read_info(ticket_dir(workdir, lv.level)).sha256, (
            f"level {lv.level}'s file is not the ticket's tensors file"
        )
        assert lv.final_accuracy == pytest.approx(results[lv.level].final_accuracy)
    assert b.model == "vgg_tiny" and b.optimizer == "sgd" and b.seed == 0
    assert b.source["num_classes"] == 10 and b.source["train_size"] == 1347
    assert b.identity["imp"]["rate"] == 0.5 and b.identity["imp"]["levels"] == 2
    masks = {n for n in b.tensors if n.startswith("masks.")}
    assert masks and masks == {"masks." + n for n in b.levels[1].layer_density}, (
        "every pruned layer needs its mask declared"
    )


def test_id_ignores_version_and_accuracies_but_not_tensors(bundle_dir, tmp_path) -> None:
    folder = _copy(bundle_dir, tmp_path)
    doc = _doc(folder)
    original = doc["id"]
    doc["provenance"]["ltsweep_version"] = "9.9"
    doc["levels"][1]["final_accuracy"] = 0.01
    _rewrite(folder, doc, fix_id=False)
    assert parse_bundle((folder / BUNDLE_FILE).read_bytes(), "x").id == original, (
        "a new version or re-read accuracies must keep the bundle id"
    )
    doc["levels"][1]["sha256"] = "0" * 64
    _rewrite(folder, doc, fix_id=False)
    with pytest.raises(CorruptArtifactError, match="was edited"):
        parse_bundle((folder / BUNDLE_FILE).read_bytes(), "x")


def test_flipped_byte_fails_that_level_by_name_and_spares_the_others(bundle_dir, tmp_path) -> None:
    folder = _copy(bundle_dir, tmp_path)
    path = folder / "level_01.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    (found,) = find_series(str(folder))
    cache = tmp_path / "cache"
    with pytest.raises(CorruptArtifactError, match=r"level_01\.safetensors.*sha256") as err:
        fetch_level(found, 1, cache)
    assert "\n" not in str(err.value)
    assert not (cache / found.bundle.id / "level_01.safetensors").exists(), (
        "a file that failed its check entered the cache"
    )
    assert fetch_level(found, 2, cache).exists(), "a good level must still be fetched"


def test_truncated_level_is_named(bundle_dir, tmp_path) -> None:
    folder = _copy(bundle_dir, tmp_path)
    path = folder / "level_02.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    (found,) = find_series(str(folder))
    with pytest.raises(CorruptArtifactError, match=r"level_02\.safetensors is 100 bytes"):
        fetch_level(found, 2, tmp_path / "cache")


@pytest.mark.parametrize(
    "lie, message",
    [
        ("drop_level", "level 2 is missing"),
        ("newer_format", "newer than this ltsweep reads"),
        ("path_in_file", "expected 'level_01.safetensors'"),
        ("bad_shape", "has shape"),
        ("not_a_bundle", "not an ltsweep ticket bundle"),
    ],
)
def test_a_json_that_lies_is_refused_in_one_line(bundle_dir, tmp_path, lie, message) -> None:
    folder = _copy(bundle_dir, tmp_path)
    doc = _doc(folder)
    if lie == "drop_level":
        doc["levels"].pop()
    elif lie == "newer_format":
        doc["format_version"] = 99
    elif lie == "path_in_file":
        doc["levels"][1]["file"] = "../../etc/passwd"
    elif lie == "bad_shape":
        name = next(iter(doc["identity"]["tensors"]))
        doc["identity"]["tensors"][name]["shape"] = [-1, "x"]
    elif lie == "not_a_bundle":
        doc = {"hello": 1}
    _rewrite(folder, doc, fix_id=lie not in ("not_a_bundle",))
    with pytest.raises(UserError, match=message) as err:
        find_series(str(folder))
    assert "\n" not in str(err.value)


def test_a_huge_json_is_not_read_past_the_limit(tmp_path) -> None:
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / BUNDLE_FILE).write_bytes(b" " * (MAX_JSON_BYTES + 10))
    with pytest.raises(CorruptArtifactError, match=r"MiB a bundle\.json may have"):
        find_series(str(folder))


def test_a_shape_that_does_not_fit_the_model_is_named(bundle_dir) -> None:
    from ltsweep.core.models import create_model

    (found,) = find_series(str(bundle_dir))
    model = create_model("vgg_tiny", 10)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    head = model.output_layer_name
    assert shape_mismatch(found.bundle, shapes, (head,)) is None, "its own model must fit"
    name = next(n for n in shapes if n.endswith(".weight") and not n.startswith(head))
    shapes[name] = (1, 2, 3)
    problem = shape_mismatch(found.bundle, shapes, (head,))
    assert problem and name in problem and "(1, 2, 3)" in problem


def test_a_level_becomes_a_ticket_the_engine_loads(bundle_dir, tiny_imp, tmp_path) -> None:
    from ltsweep.core.bundle_make import ticket_from_level
    from ltsweep.core.tickets import load_ticket
    from ltsweep.trial_layout import ticket_dir
    from tests.common.tiny import assert_state_equal

    _, workdir, _ = tiny_imp
    (found,) = find_series(str(bundle_dir))
    level = fetch_level(found, 1, tmp_path / "cache")
    ticket = load_ticket(ticket_from_level(found.bundle, 1, level, tmp_path / "t"))
    original = load_ticket(ticket_dir(workdir, 1))
    assert_state_equal(ticket.weights, original.weights)
    assert_state_equal(dict(ticket.mask), dict(original.mask))
    assert ticket.info.source_key == found.bundle.id


def test_bundles_travel_through_s3(bundle_dir, tmp_path, monkeypatch) -> None:
    from moto.server import ThreadedMotoServer

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        import boto3

        boto3.client(
            "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1"
        ).create_bucket(Bucket="lab")
        query = f"?endpoint_override=127.0.0.1:{port}&scheme=http"
        uri = f"s3://lab/tickets/digits-sgd/seed_0{query}"
        assert write_bundle(bundle_dir, uri) == "written"
        assert write_bundle(bundle_dir, uri) == "already there", "republishing must be a no-op"
        (found,) = find_series(f"s3://lab/tickets/digits-sgd{query}")
        path = fetch_level(found, 2, tmp_path / "cache")
        assert path.read_bytes() == (bundle_dir / "level_02.safetensors").read_bytes()
        with pytest.raises(UserError, match="no ticket bundle at s3://lab/nothing"):
            find_series(f"s3://lab/nothing{query}")
    finally:
        server.stop()


def test_registry_through_an_mlflow_server(bundle_dir, tmp_path, monkeypatch) -> None:
    """The registry as a lab shares it: an ``mlflow server`` on 127.0.0.1 with served artifacts;
    the version's files travel through the server's artifact proxy."""
    from ltsweep.ticket_bundle import parse_bundle as parse
    from ltsweep.tracking.bundle_registry import RegistryLocation, register_bundle
    from tests.common.netns_cluster import MlflowServer

    server = MlflowServer(tmp_path).start()
    try:
        bundle = parse((bundle_dir / BUNDLE_FILE).read_bytes(), "x")
        name, new = register_bundle(bundle_dir, bundle, "lab-tickets", server.uri)
        assert new and name == "models:/lab-tickets/1"
        assert register_bundle(bundle_dir, bundle, "lab-tickets", server.uri) == (name, False), (
            "registering the same bundle again must return its version, not add one"
        )
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        (found,) = find_series("models:/lab-tickets")
        assert found.bundle.id == bundle.id and isinstance(found.location, RegistryLocation)
        got = fetch_level(found, 2, tmp_path / "cache")
        assert got.read_bytes() == (bundle_dir / "level_02.safetensors").read_bytes()
        with pytest.raises(UserError, match="no registered model 'nobody'"):
            find_series("models:/nobody")
        with pytest.raises(UserError, match="no such registered model version"):
            find_series("models:/lab-tickets/7")
    finally:
        server.kill()
