"""``cluster.yaml`` passes the Ray autoscaler's own schema and ltsweep's rules for it.

``validate_config`` needs the file as ``ray up`` sees it: merged with the provider's defaults
by ``prepare_config`` (the raw YAML alone always fails on ``cluster_synced_files``). Neither
touches the cloud.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

util = pytest.importorskip(
    "ray.autoscaler._private.util", reason="Ray's autoscaler validates cluster.yaml"
)
pytest.importorskip("jsonschema", reason="Ray's cluster.yaml schema check needs jsonschema")

CLUSTER = Path(__file__).resolve().parent.parent / "cluster.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(CLUSTER.read_text())


def _commands(cfg: dict) -> str:
    keys = (
        "initialization_commands",
        "setup_commands",
        "head_setup_commands",
        "worker_setup_commands",
        "head_start_ray_commands",
        "worker_start_ray_commands",
    )
    return "\n".join(c for k in keys for c in cfg.get(k, []))


def test_validates_against_the_autoscaler_schema(raw: dict) -> None:
    util.validate_config(util.prepare_config(copy.deepcopy(raw)))


def test_schema_check_is_not_vacuous(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    bad["available_node_types"]["gpu8_train"]["resources"]["GPU"] = "8"
    with pytest.raises(Exception, match=r"GPU|type"):
        util.validate_config(util.prepare_config(bad))


def test_node_types(raw: dict) -> None:
    types = raw["available_node_types"]
    assert raw["head_node_type"] in types
    head = types[raw["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0 and head["resources"]["CPU"] == 0
    gpus = {name: t["resources"].get("GPU", 0) for name, t in types.items()}
    for name, t in types.items():
        for key, value in t["resources"].items():
            assert isinstance(value, int) and not isinstance(value, bool), (name, key, value)
        assert "InstanceType" in t["node_config"] and "ImageId" in t["node_config"]
    assert 8 in gpus.values(), "a worker type with 8 GPUs for Ray Train generation"
    assert 1 in gpus.values(), "a cheaper 1-GPU type for fractional transfer trials"
    assert sum(t.get("min_workers", 0) for t in types.values()) <= raw["max_workers"]


def test_setup_installs_ffcv_dependencies_and_ltsweep(raw: dict) -> None:
    setup = "\n".join(raw["setup_commands"])
    for pkg in ("pkg-config", "libopencv-dev", "libturbojpeg0-dev"):
        assert pkg in setup
    assert "'.[ffcv,gpu,cluster]'" in setup
    assert "/mnt/ltsweep" in setup and "LTSWEEP_DATA" in setup  # shared data root
    assert raw["file_mounts"].get("~/ltsweep") == "."


def test_nothing_but_ssh_is_exposed(raw: dict) -> None:
    rules = raw["provider"].get("security_group", {}).get("IpPermissions", [])
    for rule in rules:
        cidrs = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
        cidrs += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
        assert not {"0.0.0.0/0", "::/0"} & set(cidrs), f"public rule {rule}"
    prepared = util.prepare_config(copy.deepcopy(raw))  # what `ray up` runs, defaults merged
    assert "0.0.0.0" not in _commands(raw) and "0.0.0.0" not in _commands(prepared)
    assert "--dashboard-host=127.0.0.1" in "\n".join(raw["head_start_ray_commands"])
    mlflow = [c for c in raw["head_setup_commands"] if "mlflow server" in c]
    assert len(mlflow) == 1 and re.search(r"--host 127\.0\.0\.1\b", mlflow[0])
    assert "--backend-store-uri sqlite:////mnt/ltsweep/" in mlflow[0]  # durable: on EFS


def test_bucket_variant_validates_and_needs_no_shared_file_system() -> None:
    """cluster-s3.yaml: the same cluster with its storage in a bucket."""
    variant = yaml.safe_load((CLUSTER.parent / "cluster-s3.yaml").read_text())
    util.validate_config(util.prepare_config(copy.deepcopy(variant)))
    commands = _commands(variant)
    assert "nfs" not in commands and "/mnt/ltsweep" not in commands, "still mounts EFS"
    mlflow = [c for c in variant["head_setup_commands"] if "mlflow server" in c]
    assert len(mlflow) == 1 and "--artifacts-destination s3://" in mlflow[0]
    assert re.search(r"--host 127\.0\.0\.1\b", mlflow[0]) and "0.0.0.0" not in commands
    assert "--dashboard-host=127.0.0.1" in "\n".join(variant["head_start_ray_commands"])
    roles = [
        t["node_config"].get("IamInstanceProfile") for t in variant["available_node_types"].values()
    ]
    assert all(roles), "every node needs the instance profile that reaches the bucket"
