"""Client data partitions on disk: one ``.npz`` per client and a manifest with checksums.

A node reads only its own file (``partition-id`` in its node config), as a device holds
only its own data. ``write_partitions(directory, clients)`` writes them from the list of
per-client data the in-process round takes (tuples or dicts of arrays).
"""

import hashlib
import json
from pathlib import Path

import numpy as np

__all__ = ["write_partitions", "read_partition", "MANIFEST"]

MANIFEST = "manifest.json"


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_partitions(directory, clients):
    """Write ``clients[i]`` (a tuple/list or dict of arrays) to ``directory/partition-i.npz``.

    -> the manifest: {"num_partitions", "kind", "files": {i: sha256}}. Nothing is written
    unless every client's data is arrays (checked first).
    """
    directory = Path(directory)
    clients = list(clients)
    if not clients:
        raise ValueError("write_partitions: no clients")
    for i, data in enumerate(clients):
        values = data.values() if isinstance(data, dict) else data
        if not isinstance(data, (dict, tuple, list)) or not all(
                isinstance(v, np.ndarray) for v in values):
            raise TypeError(f"write_partitions: client {i}'s data must be a tuple or dict of "
                            f"ndarrays, got {type(data).__name__}")
    if len({isinstance(c, dict) for c in clients}) > 1:
        raise TypeError("write_partitions: every client's data must be of one kind (all dicts "
                        "or all tuples)")
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, data in enumerate(clients):
        arrays = data if isinstance(data, dict) else {f"_{j}": v for j, v in enumerate(data)}
        path = directory / f"partition-{i}.npz"
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        files[str(i)] = _sha256(path)
    manifest = {"num_partitions": len(clients),
                "kind": "dict" if isinstance(clients[0], dict) else "tuple", "files": files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def read_partition(directory, partition_id):
    """Client ``partition_id``'s data from ``directory``, checked against the manifest."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"read_partition: {manifest_path} is missing; write the "
                                f"partitions with write_partitions(directory, clients)")
    manifest = json.loads(manifest_path.read_text())
    n = manifest["num_partitions"]
    if isinstance(partition_id, bool) or not isinstance(partition_id, (int, np.integer)) \
            or not 0 <= partition_id < n:
        raise ValueError(f"read_partition: partition-id {partition_id!r} is not one of the "
                         f"{n} partitions in {directory}")
    path = directory / f"partition-{int(partition_id)}.npz"
    want = manifest["files"][str(int(partition_id))]
    if not path.is_file():
        raise FileNotFoundError(f"read_partition: {path} is missing")
    if _sha256(path) != want:
        raise ValueError(f"read_partition: {path} does not match its checksum in {MANIFEST} "
                         f"(expected sha256 {want[:12]}...): it changed after it was written")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if manifest["kind"] == "dict":
        return arrays
    return tuple(arrays[f"_{j}"] for j in range(len(arrays)))
