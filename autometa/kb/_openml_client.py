"""A cache-first client for OpenML's REST API, built on the ``openml`` package's own HTTP layer.

Every GET the importer needs goes through :meth:`OpenMLClient.get` (directly, or from inside
``openml``'s public listing functions, whose calls are routed here while a client is active):

1. a copy in the cache directory answers it without touching the network. Tasks, dataset
   descriptions, qualities and setups live where ``openml`` itself caches them
   (``<root>/org/openml/www/tasks/31/task.xml``, ``datasets/31/qualities.xml``, ...), so a cache
   that openml-python filled is honoured; listing calls, which openml does not cache, are kept
   under ``autometa-responses/<call path>.xml``.
2. otherwise ``openml._api_calls._perform_api_call`` asks the server, and the answer is written
   to that place. A server's "no result" answer is kept too (as ``.noresult.json``), so an empty
   listing replays as empty.

Online and offline runs therefore take one code path: only step 2 differs. Without network and
without a cached copy, :class:`OpenMLUnreachable` says which object was missing.

Why not ``openml.tasks.get_task`` / ``openml.datasets.get_dataset``: they keep parsed features and
qualities as pickle files in the cache and load them back, and autometa never unpickles anything
read from disk (caches may be shared). The XML they cache is read here instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autometa.io import atomic_write

#: call prefix -> (folder under openml's cache directory, file name) used by openml-python itself.
_NATIVE = {
    "task": ("tasks", "task.xml"),
    "data": ("datasets", "description.xml"),
    "data/qualities": ("datasets", "qualities.xml"),
    "data/features": ("datasets", "features.xml"),
    "setup": ("setups", "description.xml"),
}
RESPONSES_DIR = "autometa-responses"
_MAX_PART = 100  # longer path parts (long id lists) are hashed to stay within file-name limits


class OpenMLUnreachable(Exception):
    """OpenML could not be reached and the cache has no copy of ``what``."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


class OpenMLClient:
    """Cache-first access to OpenML (see the module docstring).

    Args:
        cache_dir: openml's root cache directory (``None``: openml's configured one).
        offline: never touch the network, answer from the cache only.
    """

    def __init__(self, cache_dir: str | Path | None = None, *, offline: bool = False) -> None:
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()
        self.offline = offline
        self.network_calls = 0
        self.cache_hits = 0
        self._what = "an OpenML response"
        self._active = False
        self._perform: Any = None

    # ------------------------------------------------------------------ session
    @contextlib.contextmanager
    def session(self) -> Iterator[OpenMLClient]:
        """Route ``openml``'s API calls through this client and use its cache directory, until exit."""
        import openml
        import openml._api_calls as api

        original = api._perform_api_call
        saved_root = openml.config._root_cache_directory
        saved_retries = (openml.config.retry_policy, openml.config.connection_n_retries)

        def routed(call: str, request_method: str, data: Any = None, file_elements: Any = None) -> str:
            if request_method != "get" or data or file_elements:
                raise RuntimeError("autometa only reads from OpenML")  # pragma: no cover - defensive
            return self.get(call)

        try:
            if self.cache_dir is not None:
                openml.config.set_root_cache_directory(self.cache_dir)
            # Two tries, one second apart: enough for a flaky link, short when there is no network.
            openml.config.set_retry_policy("human", 2)
            api._perform_api_call = routed
            self._perform = original
            self._active = True
            yield self
        finally:
            self._active = False
            api._perform_api_call = original
            openml.config.set_root_cache_directory(saved_root)
            openml.config.set_retry_policy(*saved_retries)

    @contextlib.contextmanager
    def about(self, what: str) -> Iterator[None]:
        """Name the object being fetched, for the error raised when it is neither cached nor reachable."""
        previous, self._what = self._what, what
        try:
            yield
        finally:
            self._what = previous

    # --------------------------------------------------------------------- GET
    def get(self, call: str) -> str:
        """The text of the API call ``call`` (e.g. ``"task/31"``), from the cache or the server.

        Raises:
            OpenMLUnreachable: not cached and the server cannot be reached.
            openml.exceptions.OpenMLServerException: the server (or its cached answer) says no.
        """
        import openml
        import requests

        call = call.strip("/")
        path = self._path(call)
        noresult = path.with_name(path.name + ".noresult.json")
        if path.is_file():
            self.cache_hits += 1
            return path.read_text(encoding="utf8")
        if noresult.is_file():
            self.cache_hits += 1
            saved = json.loads(noresult.read_text(encoding="utf8"))
            raise openml.exceptions.OpenMLServerNoResult(saved["message"], code=saved["code"])
        if self.offline:
            raise OpenMLUnreachable(self._what, "offline mode and no cached copy")
        try:
            self.network_calls += 1
            text = self._perform(call, "get")
        except openml.exceptions.OpenMLServerNoResult as exc:
            path.parent.mkdir(parents=True, exist_ok=True)
            noresult.write_text(json.dumps({"code": exc.code, "message": exc.message}), encoding="utf8")
            raise
        except requests.exceptions.RequestException as exc:
            raise OpenMLUnreachable(self._what, type(exc).__name__) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)  # a cache shared by concurrent workers: never a half-written reply
        return text

    def _path(self, call: str) -> Path:
        import openml

        if not self._active:
            raise RuntimeError("OpenMLClient.get is used inside 'with client.session():'")
        return cache_path(Path(openml.config.get_cache_directory()), call)


def cache_path(server_dir: Path, call: str) -> Path:
    """Where the answer to ``call`` is cached under ``server_dir`` (e.g. ``<root>/org/openml/www``)."""
    call = call.strip("/")
    prefix, _, last = call.rpartition("/")
    if prefix in _NATIVE and last.isdigit():
        folder, name = _NATIVE[prefix]
        return server_dir / folder / last / name
    parts = [p if len(p) <= _MAX_PART else hashlib.sha1(p.encode()).hexdigest() for p in call.split("/")]
    return server_dir.joinpath(RESPONSES_DIR, *parts[:-1], parts[-1] + ".xml")
