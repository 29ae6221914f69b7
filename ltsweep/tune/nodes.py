"""Which Ray node this process runs on: recorded with every trial so a report can say where it ran."""

from __future__ import annotations


def node_label() -> str:
    """This process's Ray node (id and IP: on one host, nodes differ only by id), else host."""
    import socket

    import ray

    if not ray.is_initialized():
        return socket.gethostname()
    ctx = ray.get_runtime_context()
    return f"{ctx.get_node_id()}@{ray.util.get_node_ip_address()}"
