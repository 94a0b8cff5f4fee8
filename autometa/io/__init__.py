"""Shared I/O concerns, in one home each: artifacts on disk and Optuna storages.

* :mod:`autometa.io._artifacts`: atomic writes, SHA-256 checks before native code reads a file,
  versioned JSON headers (``format``, ``format_version``) and numpy-aware JSON; used by the knowledge
  base, its build shards, the meta-model cache, the shipped meta-model and saved models.
* :mod:`autometa.io._storage`: the one Optuna storage opener (SQLite paths, RDB URLs, heartbeats with
  retry of a dead worker's trial) and the one URL masking, so that no password is ever printed.

Nothing heavy is imported here (Optuna and SQLAlchemy load inside the functions that need them).
"""

from __future__ import annotations

from autometa.io._artifacts import (
    atomic_path,
    atomic_write,
    check_header,
    check_parquet_bytes,
    check_writable,
    dumps,
    json_default,
    parse_json,
    read_json,
    read_verified,
    sha256_bytes,
    sha256_file,
    write_json,
)
from autometa.io._storage import (
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    create_or_load_study,
    mask_url,
    open_storage,
    scrub,
    storage_url,
)

__all__ = [
    "GRACE_PERIOD",
    "HEARTBEAT_INTERVAL",
    "atomic_path",
    "atomic_write",
    "check_header",
    "check_parquet_bytes",
    "check_writable",
    "create_or_load_study",
    "dumps",
    "json_default",
    "mask_url",
    "open_storage",
    "parse_json",
    "read_json",
    "read_verified",
    "scrub",
    "sha256_bytes",
    "sha256_file",
    "storage_url",
    "write_json",
]
