"""Can a trial ever be placed on this cluster? Asked once when a run starts, so that a trial no
node can hold is refused with one line instead of waiting in silence.

A trial's placement is what Tune and Ray Train reserve for it at the same time: one bundle of
``cpu``/``gpu`` for a one-process trial; for a Ray Train trial (``workers`` > 1) the trial's
driver (``DRIVER_CPU``, ``trial_table.placement``) beside ``workers`` bundles of ``cpu``/``gpu``
(Ray Train packs them on as few nodes as it can, but may spread them).

"Ever" depends on the cluster:

- *A fixed cluster* (a local Ray, or one without an autoscaler): the bundles must fit together
  into the nodes' total resources, as if nothing else ran.
- *An autoscaling cluster* (its configuration names node types that can still be launched):
  every bundle must fit one node type or one live node; more nodes can come, so a cluster that
  starts with no worker nodes is not refused.

A placement that fits but has to wait for busy or starting resources is not refused; the
progress line says that it waits (``pending_placements``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ltsweep.errors import UserError
from ltsweep.sweep.trial import Resources, Trial

DRIVER_CPU = 0.1  # a Ray Train trial's driver (the Tune trial itself)
KINDS = ("CPU", "GPU")  # what ltsweep's resources ask for
EPS = 1e-9

Bundle = dict[str, float]


@dataclass(frozen=True)
class Offer:
    """What a cluster has or can have: its live nodes' total resources, and the node types its
    autoscaler may still launch (empty for a fixed cluster)."""

    nodes: list[Bundle] = field(default_factory=list)
    node_types: dict[str, Bundle] = field(default_factory=dict)

    def describe(self) -> str:
        live = ", ".join(_fmt(n) for n in self.nodes) or "none"
        text = f"{len(self.nodes)} node(s): {live}"
        if self.node_types:
            types = ", ".join(f"{name} {_fmt(b)}" for name, b in self.node_types.items())
            text += f"; node types it can launch: {types}"
        return text


def bundles(r: Resources) -> list[Bundle]:
    """The bundles one trial reserves at once."""
    one = {"CPU": r.cpu, **({"GPU": r.gpu} if r.gpu else {})}
    if r.workers > 1:
        return [{"CPU": DRIVER_CPU}] + [dict(one) for _ in range(r.workers)]
    return [one]


def _fits(bundle: Bundle, node: Bundle) -> bool:
    return all(bundle.get(k, 0.0) <= node.get(k, 0.0) + EPS for k in KINDS)


def _take(bundle: Bundle, node: Bundle) -> None:
    for k in KINDS:
        node[k] = node.get(k, 0.0) - bundle.get(k, 0.0)


def _pack(items: list[Bundle], nodes: list[Bundle]) -> bool:
    """First fit of ``items`` into ``nodes`` (copies). Exact for what ``bundles`` makes: equal
    worker bundles after one driver bundle, whose node is tried every way (``can_ever_place``)."""
    free = [dict(n) for n in nodes]
    for item in items:
        for node in free:
            if _fits(item, node):
                _take(item, node)
                break
        else:
            return False
    return True


def can_ever_place(items: list[Bundle], offer: Offer) -> bool:
    if offer.node_types:
        hosts = offer.nodes + list(offer.node_types.values())
        return all(any(_fits(b, h) for h in hosts) for b in items)
    if len(items) == 1 or items[0] == items[1]:
        return _pack(items, offer.nodes)
    first, rest = items[0], items[1:]  # the driver: try it on each node, workers after it
    for i, node in enumerate(offer.nodes):
        if _fits(first, node):
            nodes = [dict(n) for n in offer.nodes]
            _take(first, nodes[i])
            if _pack(rest, nodes):
                return True
    return False


def needs(r: Resources) -> str:
    if r.workers > 1:
        each = _fmt({"CPU": r.cpu, **({"GPU": r.gpu} if r.gpu else {})})
        total = DRIVER_CPU + r.workers * r.cpu
        gpus = f" + {r.workers * r.gpu:g} GPU" if r.gpu else ""
        return (
            f"{total:g} CPU{gpus} at once (its driver {DRIVER_CPU:g} CPU + {r.workers} "
            f"workers × {each})"
        )
    return _fmt({"CPU": r.cpu, **({"GPU": r.gpu} if r.gpu else {})})


def refuse_unplaceable(trials: list[Trial], offer: Offer) -> None:
    """One line (``UserError``) for the first distinct placement no node can ever satisfy."""
    seen: set[Resources] = set()
    for t in trials:
        if t.resources in seen:
            continue
        seen.add(t.resources)
        if not can_ever_place(bundles(t.resources), offer):
            raise UserError(
                f"trial {t.key} ({t.stage}) needs {needs(t.resources)}, which this cluster "
                f"can never hold: it offers {offer.describe()}; lower resources.{t.stage} "
                "(cpu, gpu, workers) in the sweep file, or add a node that holds it"
            )


def _fmt(b: Bundle) -> str:
    parts = [f"{k}: {b[k]:g}" for k in KINDS if b.get(k)]
    return "{" + (", ".join(parts) or "CPU: 0") + "}"


def cluster_offer() -> Offer:
    """The connected Ray cluster's offer: live nodes (``ray.nodes()``), and the node types of
    its autoscaler's configuration that may still launch (Ray keeps that configuration in its
    GCS; a cluster without an autoscaler has none)."""
    import ray

    nodes = [
        {k: float(n["Resources"].get(k, 0.0)) for k in KINDS} for n in ray.nodes() if n.get("Alive")
    ]
    return Offer(nodes, _autoscaler_node_types())


def _autoscaler_node_types() -> dict[str, Bundle]:
    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # no autoscaler, or a Ray without this call: a fixed cluster
        return {}
    if config is None:
        return {}
    types = {}
    for group in config.node_group_configs:
        if group.max_count == 0:
            continue
        types[group.name] = {k: float(group.resources.get(k, 0)) for k in KINDS}
    return types


def pending_placements() -> int:
    """Placement groups of this cluster waiting for resources (busy or still starting)."""
    try:
        from ray.util import placement_group_table

        table = placement_group_table()
    except Exception:
        return 0
    return sum(1 for pg in table.values() if pg.get("state") == "PENDING")
