"""A pool of long-lived evaluation workers with per-evaluation time and memory limits.

Each worker is a separate Python process (``autometa.evaluation._worker``) that imports the model
libraries once and then serves many evaluations, so the per-evaluation overhead is a pipe round trip.
A worker that runs over the time limit is killed (SIGKILL) and replaced on the next request; a worker
that dies (segfault, out-of-memory kill) is reported as a failed result and replaced the same way.
Models run single-threaded (the BLAS/OpenMP thread counts are set to 1 in the workers).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from autometa.evaluation._protocol import Protocol
from autometa.evaluation._row import STATUS_FAILED, STATUS_MEMORY, STATUS_TIMEOUT
from autometa.evaluation._run import EvaluationResult, PreparedData, failed_result

logger = logging.getLogger(__name__)

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
#: Seconds a new worker may take to import its libraries and say it is ready.
STARTUP_TIMEOUT = 120.0
#: Seconds of slack on top of the protocol's time limit (pickling the request and result).
SLACK_SECONDS = 2.0
#: How often the address space of busy workers is sampled, in seconds.
SAMPLE_SECONDS = 0.25
#: A worker that crashes after using this share of its memory limit is reported as out of memory:
#: under an address-space limit some native code crashes (SIGSEGV/SIGABRT) instead of raising.
NEAR_LIMIT = 0.8


@dataclass
class Job:
    """One evaluation to run: ``data`` is sent to a worker only when that worker lacks it."""

    data: PreparedData
    family: str
    config: dict[str, Any]
    protocol: Protocol
    tag: Any = None
    #: Return the out-of-fold predictions with the result (model fusion needs them; builds do not).
    keep_predictions: bool = False


class _Worker:
    def __init__(self, stderr: Any) -> None:
        env = dict(os.environ)
        env.update({name: "1" for name in _THREAD_VARIABLES})
        env["PYTHONWARNINGS"] = "ignore"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autometa.evaluation._worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env,
            preexec_fn=_die_with_parent, close_fds=True,
        )
        self.data_key: str | None = None
        self.job: Job | None = None
        self.deadline = math.inf
        self.started = 0.0
        self.ready = False
        self.peak_mb = 0.0

    def fileno(self) -> int:
        return self.process.stdout.fileno()

    def wait_ready(self) -> None:
        if self.ready:
            return
        readable, _, _ = select.select([self.process.stdout], [], [], STARTUP_TIMEOUT)
        message = self._read() if readable else None
        if not message or message[0] != "ready":
            self.kill()
            raise RuntimeError("an evaluation worker failed to start (see its stderr)")
        self.ready = True

    def send(self, job: Job) -> None:
        data = None if self.data_key == job.data.key else job.data
        self.job = job
        self.peak_mb = 0.0
        self.started = time.perf_counter()
        self.deadline = self.started + job.protocol.time_limit + SLACK_SECONDS
        pickle.dump(("eval", job.data.key, data, job.family, job.config, job.protocol.to_dict(),
                     job.keep_predictions),
                    self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.flush()
        self.data_key = job.data.key
        # A worker that is already near the limit can crash before the first periodic sample.
        self.sample_memory()

    def sample_memory(self) -> None:
        """Record the peak address space (VmSize) of the running evaluation."""
        try:
            with open(f"/proc/{self.process.pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmSize:"):
                        self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
                        return
        except (OSError, ValueError, IndexError):
            pass

    def _read(self) -> Any:
        try:
            return pickle.load(self.process.stdout)
        except (EOFError, pickle.UnpicklingError, OSError, ValueError):
            return None

    def receive(self) -> EvaluationResult:
        job = self.job
        assert job is not None
        message = self._read()
        self.job = None
        if message is None or message[0] != "result":
            try:  # it is exiting: give it a moment, so that its real exit status is reported
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.kill()
                code = self.process.wait()
            why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            limit = job.protocol.memory_limit_mb
            logger.debug("worker %s died (%s) evaluating %s at %.0f MiB; it is replaced", self.process.pid, why,
                         job.family, self.peak_mb)
            if self.peak_mb >= NEAR_LIMIT * limit:
                return failed_result(job.family, job.config, STATUS_MEMORY,
                                     f"out of memory: the worker process crashed ({why}) with {self.peak_mb:.0f} MiB "
                                     f"of address space, at the protocol's limit of {limit} MiB",
                                     job.data, job.protocol, time.perf_counter() - self.started)
            return failed_result(job.family, job.config, STATUS_FAILED,
                                 f"the worker process died during the evaluation ({why}); "
                                 "a crash in the model library or the system's out-of-memory killer",
                                 job.data, job.protocol, time.perf_counter() - self.started)
        return EvaluationResult.from_dict(message[1])

    def timeout_result(self) -> EvaluationResult:
        job = self.job
        assert job is not None
        logger.debug("worker %s ran %s over the %g s limit: killed and replaced", self.process.pid, job.family,
                     job.protocol.time_limit)
        self.kill()
        self.job = None
        return failed_result(job.family, job.config, STATUS_TIMEOUT,
                             f"timeout: the evaluation ran over the protocol's limit of {job.protocol.time_limit:g} s "
                             "and its worker was killed", job.data, job.protocol, time.perf_counter() - self.started)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.process.stdin.close()  # EOF: the worker leaves its loop
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


def _die_with_parent() -> None:
    # Linux: the worker receives SIGKILL when the process that started it dies (even by kill -9),
    # so an interrupted build never leaves evaluations running.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class WorkerPool:
    """``n_workers`` long-lived evaluation processes.

        >>> with WorkerPool(2) as pool:
        ...     for job, result in pool.imap_unordered(jobs):
        ...         ...

    Args:
        n_workers: number of worker processes (each runs one single-threaded evaluation at a time).
        stderr: where the workers' stderr goes (default: discarded).
    """

    def __init__(self, n_workers: int = 1, stderr: Any = subprocess.DEVNULL) -> None:
        if n_workers < 1:
            raise ValueError("n_workers must be at least 1")
        if not sys.platform.startswith("linux"):
            # The limits need Linux: memory is sampled from /proc, the address space capped with setrlimit.
            from autometa.errors import InputError

            raise InputError(f"autometa's evaluation workers run on Linux only (this is {sys.platform}): they "
                             "read /proc and set memory limits; run on Linux, e.g. in WSL or a container.")
        self.n_workers = n_workers
        self._stderr = stderr
        self._workers: list[_Worker] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._workers:
            worker.close()
        self._workers = []

    def _idle_worker(self) -> _Worker:
        self._workers = [w for w in self._workers if w.alive() or w.job is not None]
        for worker in self._workers:
            if worker.job is None:
                return worker
        worker = _Worker(self._stderr)
        self._workers.append(worker)
        return worker

    def evaluate(self, job: Job) -> EvaluationResult:
        """Run one job and wait for its result."""
        for _, result in self.imap_unordered([job]):
            return result
        raise AssertionError("unreachable")

    def imap_unordered(self, jobs: Iterable[Job],
                       on_start: Callable[[Job], None] | None = None) -> Iterator[tuple[Job, EvaluationResult]]:
        """Run ``jobs`` (consumed lazily) on the workers; yield ``(job, result)`` as each finishes."""
        pending = iter(jobs)
        exhausted = False
        while True:
            busy = [w for w in self._workers if w.job is not None]
            while not exhausted and len(busy) < self.n_workers:
                job = next(pending, None)
                if job is None:
                    exhausted = True
                    break
                worker = self._idle_worker()
                worker.wait_ready()
                if on_start is not None:
                    on_start(job)
                try:
                    worker.send(job)
                except (BrokenPipeError, OSError):
                    worker.job = job  # reported as a dead worker by receive() below
                busy.append(worker)
            if not busy:
                return
            now = time.perf_counter()
            wait = min(max(0.0, min(w.deadline for w in busy) - now), SAMPLE_SECONDS)
            readable, _, _ = select.select(busy, [], [], wait)
            for worker in busy:
                if worker not in readable:
                    worker.sample_memory()
            for worker in readable:
                job = worker.job
                yield job, worker.receive()
            now = time.perf_counter()
            for worker in busy:
                if worker.job is not None and now >= worker.deadline:
                    job = worker.job
                    yield job, worker.timeout_result()
