"""Ticket bundles in plain text, for ``ltsweep ticket show URI``: provenance a reader can check
by eye, no Python reprs."""

from __future__ import annotations

from typing import Any

from ltsweep.ticket_bundle import Bundle


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if value is None:
        return "-"
    return str(value)


def describe(bundle: Bundle, origin: str, verified: bool) -> str:
    """Plain-text provenance for ``ltsweep ticket show URI``."""
    ident, src = bundle.identity, bundle.source
    cut = ", ".join(f"{k} {src[k]}" for k in ("half", "train_subset") if src.get(k) is not None)
    imp = ident["imp"]
    lines = [
        f"bundle           {bundle.id}",
        f"origin           {origin}",
        f"model            {bundle.model}"
        + (f" ({_fmt(bundle.model_options)})" if bundle.model_options else ""),
        f"source dataset   {src['dataset']}"
        + (f" as {src['entry']}" if src.get("entry") not in (None, src["dataset"]) else "")
        + f", {src['num_classes']} classes, {src['train_size']} training images used"
        + (f" ({cut})" if cut else ""),
        f"files            {src['fingerprint_kind']} fingerprint {src['files_fingerprint'][:16]}",
        f"optimizer        {bundle.optimizer}: "
        + _fmt({k: v for k, v in ident["optimizer"].items() if k != "name"}),
        f"schedule         {_fmt(ident['schedule'])}",
        f"seed             {bundle.seed}",
        f"IMP              {imp['strategy']} pruning, rate {imp['rate']} per level, "
        f"{imp['levels']} levels, rewind to step {imp['rewind_step']}"
        + (", output layer pruned" if imp.get("prune_output") else ""),
        f"tensors          {len(bundle.tensors)} (weights and masks)",
        f"made by          ltsweep {bundle.provenance.get('ltsweep_version', '?')}, "
        f"trial {bundle.provenance.get('source_key', '?')}",
        "files verified   "
        + ("yes (size, sha256 and tensor header of every level)" if verified else "no"),
        "level  weights left  final acc  best acc  sha256",
    ]
    for lv in bundle.levels:
        acc = [f"{a:.4f}" if a is not None else "-" for a in (lv.final_accuracy, lv.best_accuracy)]
        lines.append(
            f"{lv.level:>5}  {lv.weights_remaining:>11.4%}  {acc[0]:>9}  {acc[1]:>8}  "
            f"{lv.sha256[:16]}"
        )
    return "\n".join(lines)
