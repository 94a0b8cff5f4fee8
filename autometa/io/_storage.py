"""Optuna storages: one opener for every verb, and URLs that never show their password.

``tune``, ``kb build --storage``, ``kb export --storage`` and ``kb import-study`` open their storage
here. A storage is ``None`` (in memory), a path (a SQLite file) or an Optuna RDB URL (SQLite,
PostgreSQL, MySQL). What the opener adds to Optuna's ``RDBStorage``:

* the password is parsed as a person means it: everything between ``user:`` and the *last* ``@``
  (SQLAlchemy stops at the first ``@``, so ``pa@ss`` would connect with ``pa`` to host ``ss@host``);
  the URL handed to SQLAlchemy carries it percent-encoded;
* every message shows the URL through :func:`mask_url` and passes through :func:`scrub`, so no
  password (with ``/ @ : %`` or not) is printed;
* ``sqlite://`` (an in-memory database that would save nothing) is refused;
* heartbeats (``heartbeat_interval``, ``grace_period``) with a stale-trial callback, so that the trial
  of a killed worker is failed and retried by the next worker or on resume;
* creating the tables of a new database is retried: two workers started together on a new SQLite
  file race to create them, and the loser sees "table ... already exists".
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autometa.errors import InputError

#: Seconds between heartbeats of a running trial, and without one before it counts as dead.
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 60
#: How often a dead worker's trial is retried before it stays failed.
MAX_RETRY = 3
#: Seconds to wait for a database server before calling it unreachable.
CONNECT_TIMEOUT = 10

_AUTHORITY = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*://)(?P<user>[^:/@?#]*):(?P<password>.*)@(?P<rest>[^@]*)$",
                        re.DOTALL)


def _split_password(url: str) -> tuple[str, str, str, str] | None:
    """``(scheme, user, password, rest)`` of a URL with a password (up to the last ``@``), else None."""
    match = _AUTHORITY.match(url)
    if match is None:
        return None
    return match["scheme"], match["user"], match["password"], match["rest"]


def mask_url(url: Any) -> str:
    """``url`` with its password shown as ``***`` (for every message and log line).

    SQLAlchemy's ``render_as_string(hide_password=True)`` where it parses the URL as meant; otherwise
    (a literal ``@`` in the password, an unparsable URL) everything between ``user:`` and the last
    ``@`` is masked. Masking errs on the side of hiding too much.
    """
    if url is None:
        return "memory"
    text = str(url)
    parts = _split_password(text)
    if parts is None:
        return text  # no password in it
    try:
        parsed = _parse(text)
        if parsed is not None and parsed.password is not None:
            return parsed.render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: the regex below still hides the password
        pass
    scheme, user, _, rest = parts
    return f"{scheme}{user}:***@{rest}"


def scrub(text: str, url: Any) -> str:
    """``text`` (e.g. a driver's error message) with ``url`` masked and its password removed wherever it appears."""
    if not url or not text:
        return text
    url = str(url)
    text = text.replace(url, mask_url(url))
    secrets = set()
    parts = _split_password(url)
    if parts is not None and parts[2]:
        from urllib.parse import quote_plus, unquote

        raw = parts[2]
        secrets |= {raw, unquote(raw), quote_plus(unquote(raw))}
        # The pieces SQLAlchemy alone would have taken for host or password when '@' is in the password.
        secrets |= {piece for piece in raw.split("@") if len(piece) >= 4}
    for secret in sorted(secrets, key=len, reverse=True):
        # Whole-token matches only for short secrets, so a password 'p' does not blank every 'p'.
        pattern = re.escape(secret) if len(secret) >= 4 else rf"(?<![\w]){re.escape(secret)}(?![\w])"
        text = re.sub(pattern, "***", text)
    return text


def _parse(url: str) -> Any:
    """The SQLAlchemy URL object for ``url``, with a password that holds ``@`` (or ``/ : %``) kept whole."""
    from urllib.parse import unquote

    from sqlalchemy.engine import make_url

    parts = _split_password(url)
    if parts is None:
        return make_url(url)
    # SQLAlchemy's pattern ends the password at the first '@' and reads a ':' after it as a port; a
    # person means the last '@'. Parse the URL without its password, then set the password whole.
    scheme, user, password, rest = parts
    return make_url(f"{scheme}{user}@{rest}").set(password=unquote(password))


def storage_url(storage: str | Path) -> str:
    """The SQLAlchemy URL string of a storage argument: a path becomes ``sqlite:///<absolute path>``;
    a password is percent-encoded as SQLAlchemy reads it; an installed PostgreSQL driver is named.

    Raises:
        InputError: a path whose folder does not exist, or an in-memory SQLite URL (nothing would be saved).
    """
    url = str(storage)
    if "://" not in url:  # a plain path is a SQLite file
        path = Path(url).expanduser()
        if path.is_dir():
            raise InputError(f"The storage '{path}' is a folder; give a SQLite file name such as '{path / 'study.db'}'.")
        if not path.parent.is_dir():
            raise InputError(f"Cannot create the study file '{path}': its folder does not exist.")
        return f"sqlite:///{path.resolve()}"
    if re.fullmatch(r"sqlite(\+\w+)?://(/(:memory:)?)?(\?.*)?", url.strip()):
        raise InputError(f"The storage '{url}' is an in-memory SQLite database: nothing would be saved. Give a "
                         "file (sqlite:///study.db or a path), or leave the storage out for an in-memory study.")
    try:
        parsed = _parse(url)
    except Exception:
        raise InputError(f"Cannot read the storage URL {mask_url(url)}; expected e.g. sqlite:///study.db or "
                         "postgresql://user:password@host/db.") from None
    if parsed.drivername in ("postgresql", "postgres"):
        import importlib.util

        # SQLAlchemy 2.1 reads postgresql:// as psycopg 3; with only psycopg2 installed, name it.
        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def open_storage(storage: Any, *, heartbeat_interval: int | None = HEARTBEAT_INTERVAL,
                 grace_period: int | None = GRACE_PERIOD,
                 stale_trial_callback: Callable[[Any, Any], None] | None = None, must_exist: bool = False,
                 attempts: int = 8) -> Any:
    """An Optuna storage for ``storage``: ``None`` (in memory: returns None), a SQLite file path, an RDB
    URL, or an Optuna storage object (returned as it is).

    Args:
        heartbeat_interval, grace_period: Optuna heartbeats (None: none). A RUNNING trial without a
            heartbeat for ``grace_period`` seconds is failed by the next worker (or on resume).
        stale_trial_callback: called with ``(study, trial)`` for each such trial; default: Optuna's
            ``RetryHeartbeatStaleTrialCallback`` (``RetryFailedTrialCallback`` before Optuna 4.9), up to
            :data:`MAX_RETRY` retries of the same parameters.
        must_exist: a SQLite file must exist already (to read studies from it, not to create one).
        attempts: tries of a new database's table creation (concurrent workers race for it).

    Raises:
        InputError: an unreadable or unreachable URL, a missing folder or file, ``sqlite://``, a
            missing database driver, tables of an incompatible Optuna version; every message shows
            the URL with its password masked.
    """
    import optuna
    import sqlalchemy.exc

    if storage is None:
        return None
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    url = storage_url(storage)
    masked = mask_url(storage)
    if must_exist and url.startswith("sqlite"):
        path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
        if not Path(path).is_file():
            raise InputError(f"The storage {masked} points to '{path}', which does not exist; check the path.")
    kwargs: dict[str, Any] = {}
    if heartbeat_interval:
        if stale_trial_callback is None:
            # Optuna >= 4.9 renamed it RetryHeartbeatStaleTrialCallback; both copy the trial as WAITING.
            retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
                optuna.storages.RetryFailedTrialCallback
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" / "deprecated"
                stale_trial_callback = retry(max_retry=MAX_RETRY)
        kwargs.update(heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                      **{_callback_keyword(): stale_trial_callback})
    if url.startswith("sqlite"):
        # Many workers on one SQLite file: wait for the write lock instead of failing after 5 s.
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": CONNECT_TIMEOUT}}

    def reason(exc: BaseException) -> str:
        text = str(getattr(exc, "orig", None) or exc).strip()
        return scrub(scrub(text.splitlines()[0][:200] if text else type(exc).__name__, url), str(storage))

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeats are "experimental"
                return _storage_class()(url, engine_kwargs=engine_kwargs, **kwargs)
        except sqlalchemy.exc.ArgumentError:
            raise InputError(f"'{masked}' is not an Optuna storage URL; use e.g. sqlite:///study.db or "
                             "postgresql://user:password@host/db.") from None
        except ImportError as exc:  # optuna wraps the driver's ModuleNotFoundError
            missing = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or "database driver"
            raise InputError(f"The storage {masked} needs the Python package '{missing}', which is not installed; "
                             "install it, or name an installed driver in the URL (e.g. postgresql+psycopg2://...).") from None
        except RuntimeError as exc:  # optuna: tables written by an incompatible optuna version
            raise InputError(f"The Optuna storage {masked} cannot be read by this optuna version ({reason(exc)}); "
                             "run 'optuna storage upgrade --storage URL' and retry.") from None
        except Exception as exc:  # SQLAlchemy and the drivers raise many types for dead servers
            if attempt + 1 < attempts and _creation_race(str(exc)):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise InputError(f"Cannot open the Optuna storage {masked} ({reason(exc)}); check the URL and that the "
                             "database server is running and reachable.") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _storage_class() -> type:
    """Optuna's ``RDBStorage``, recording a trial's first heartbeat the moment it starts running.

    Optuna records the first heartbeat only once ``study.ask()`` returns, after the sampler's proposal
    (up to seconds); a worker killed in between left a RUNNING trial without any heartbeat, which
    Optuna never counts as stale: it stayed RUNNING forever. A heartbeat at the start narrows that gap
    to the moment between two commits (seen once in 10 kills under heavy load), and a RUNNING trial
    still without a heartbeat after the grace period counts as stale too.
    """
    import datetime

    import optuna
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    class HeartbeatFromStartStorage(optuna.storages.RDBStorage):
        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            stale = list(super()._get_stale_trial_ids(study_id))
            grace = self.grace_period if self.grace_period is not None else 2 * self.heartbeat_interval
            # The start as the worker's clock wrote it: UTC in Optuna >= 5 (a private column), local before.
            if hasattr(models.TrialModel, "_datetime_start_utc"):
                started = models.TrialModel._datetime_start_utc
                now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            else:  # pragma: no cover - older Optuna
                started, now = models.TrialModel.datetime_start, datetime.datetime.now()
            horizon = now - datetime.timedelta(seconds=grace)
            with _create_scoped_session(self.scoped_session) as session:
                silent = (session.query(models.TrialModel.trial_id)
                          .filter(models.TrialModel.study_id == study_id,
                                  models.TrialModel.state == TrialState.RUNNING,
                                  started < horizon,
                                  ~models.TrialModel.heartbeats.any())
                          .all())
            return stale + [row[0] for row in silent if row[0] not in stale]

        def _create_new_trial(self, study_id: int, template_trial: Any = None) -> Any:
            # (Optuna's cache layer calls this private method; create_new_trial goes through it too.)
            frozen = super()._create_new_trial(study_id, template_trial)
            if self.heartbeat_interval and frozen.state == TrialState.RUNNING:
                self.record_heartbeat(frozen._trial_id)
            return frozen

        def set_trial_state_values(self, trial_id: int, state: Any, values: Any = None) -> bool:
            updated = super().set_trial_state_values(trial_id, state, values)
            if updated and state == TrialState.RUNNING and self.heartbeat_interval:
                self.record_heartbeat(trial_id)  # a WAITING (enqueued) trial taken by this worker
            return updated

    return HeartbeatFromStartStorage


def create_or_load_study(storage: Any, study_name: str | None, *, direction: str, sampler: Any = None,
                         pruner: Any = None, attempts: int = 8) -> tuple[Any, bool]:
    """``(study, created)``: a new study, or the existing one of that name (resuming, or joining workers).

    Creating a study is atomic in every Optuna storage, so exactly one of several workers started
    together gets ``created=True``; a transient error of the race (a table or row created by another
    worker at that moment, a locked SQLite file) is retried.
    """
    import optuna

    for attempt in range(attempts):
        try:
            try:
                return optuna.create_study(storage=storage, study_name=study_name, direction=direction,
                                           sampler=sampler, pruner=pruner), True
            except optuna.exceptions.DuplicatedStudyError:
                return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner), False
        except Exception as exc:
            if attempt + 1 < attempts and (isinstance(exc, KeyError) or _creation_race(str(exc))):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _creation_race(message: str) -> bool:
    """Whether an error is another worker creating the same tables at the same moment."""
    lowered = message.lower()
    return any(s in lowered for s in ("already exists", "unique constraint", "integrityerror", "database is locked",
                                      "duplicate key"))


def _callback_keyword() -> str:
    """Optuna >= 4.? names it ``heartbeat_stale_trial_callback``; older ones ``failed_trial_callback``."""
    import inspect

    import optuna

    names = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    return "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in names else "failed_trial_callback"
