"""Train many motifs at once: local worker processes or a Ray cluster.

:class:`MotifRunner` trains the motifs of an outer epoch (or of a query) in
parallel, one single-threaded worker process per core.  Every motif trains
from its own seed (:mod:`naslib_petridish.seeds`), so results never depend
on the backend, the worker count or the order.

Worker processes are sized and guarded:

* a worker holds about :data:`WORKER_MEMORY_MB` of memory (PyTorch and a
  motif); :func:`check_workers` refuses a worker count the machine's free
  memory cannot hold and warns above the core count, before any work starts;
* a worker exits by itself when the process that started it dies, however it
  died (SIGKILL and the OOM killer included): a watchdog thread in each worker
  polls its parent.  With the workers gone, the ``multiprocessing`` resource
  tracker loses its last client and exits too.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Sequence

import torch

from .cells import Cell
from .spaces import as_cell
from .config import PetriDishConfig
from .errors import OptionalDependencyError, WorkerError
from .inner import MotifResult, check_device, train_motif

log = logging.getLogger("naslib_petridish")

#: Resident memory of one worker process training a motif (PyTorch's own ~300 MB plus the
#: motif; measured 330-400 MB for motifs A/B/C on CPU).  Used to refuse worker counts the
#: machine cannot hold.
WORKER_MEMORY_MB = 400
#: How often a worker checks that its parent is still alive (seconds).
PARENT_POLL_SECONDS = 0.5


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def available_memory_mb() -> float | None:
    """Memory available to new processes (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_workers(requested: int) -> int:
    """The number of worker processes to start for ``requested`` (0 = one per core).

    Refuses (:class:`WorkerError`) a count whose processes the available memory cannot
    hold, and warns when it exceeds the number of cores (motifs then share cores and
    gain nothing).  The default (0) is capped to what memory holds instead.
    """
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise WorkerError(f"workers must be a non-negative integer, got {requested!r}")
    cores = default_workers()
    mem = available_memory_mb()
    fits = None if mem is None else max(1, int(mem // WORKER_MEMORY_MB))
    if requested == 0:
        return cores if fits is None else min(cores, fits)
    if fits is not None and requested > 1 and requested > fits:
        raise WorkerError(
            f"--workers {requested} needs about {requested * WORKER_MEMORY_MB / 1024:.1f} GB "
            f"({WORKER_MEMORY_MB} MB per worker process) but only {mem / 1024:.1f} GB is "
            f"available; use --workers {min(fits, cores)} or fewer (0 = one per core)")
    if requested > cores:
        log.warning("%d workers on %d cores: motifs will share cores and run no faster; "
                    "--workers %d (or 0) is enough", requested, cores, cores)
    return requested


def _task(args: tuple) -> MotifResult:
    cell_dict, cfg_dict, images, labels, seed, want_grad = args
    cfg = PetriDishConfig.from_dict(cfg_dict)
    cell = (Cell(cell_dict["matrix"], cell_dict["ops"]) if cfg.space == "nb101"
            else as_cell(cell_dict, cfg.space))
    return train_motif(cell, images, labels, cfg, seed, want_grad)


def _exit_with_parent(parent: int) -> None:
    """Watchdog loop of a worker: exit at once when the parent process is gone."""
    import time

    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(PARENT_POLL_SECONDS)


def _worker_init(parent: int) -> None:
    torch.set_num_threads(1)
    # Ctrl-C in a terminal reaches the whole process group: the main process handles it
    # (it stops the workers); a worker would only print a traceback of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked at its start
    if os.getppid() != parent:  # the parent died while this worker started
        os._exit(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True,
                     name="parent-watchdog").start()


@contextlib.contextmanager
def _sigint_blocked():
    """Block SIGINT while worker processes may be started: a new worker inherits the
    blocked signal, so a terminal's Ctrl-C (sent to the whole process group) cannot
    interrupt it while it imports torch, before ``_worker_init`` runs.  A SIGINT that
    arrives meanwhile stays pending and reaches this process right after."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class MotifRunner:
    """Trains many motifs, in worker processes when ``workers > 1``, or on a Ray
    cluster with ``backend="ray"``.

    Use as a context manager so that the pool is started once per fit or
    query and shut down afterwards.  Every motif trains single-threaded from its
    own seed, so the backend and the worker count never change a result.
    """

    #: motifs handed to any runner of this process so far (what a test reads to check that
    #: a fit trains no motif)
    motifs_started = 0

    def __init__(self, workers: int = 0, backend: str = "process", ray_address: str | None = None,
                 device: str | None = None):
        if backend not in ("process", "ray"):
            raise WorkerError(f"backend must be 'process' or 'ray', got '{backend}'")
        self.workers = check_workers(workers) if backend == "process" else (workers or 1)
        self.backend = backend
        self.ray_address = ray_address
        self.device = device
        self._pool: ProcessPoolExecutor | None = None
        self._ray_task = None

    def __enter__(self) -> "MotifRunner":
        if self.device is not None:
            check_device(self.device)  # fail here, not in a worker
        if self.backend == "ray":
            self._ray_task = _ray_remote(self.ray_address)
            return self
        if self.workers > 1:
            # spawn: forking a process that already ran torch ops can deadlock in OpenMP.
            # Processes start on demand, so a query of 3 cells starts at most 3.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_worker_init, initargs=(os.getpid(),))
        return self

    def __exit__(self, exc_type=None, *exc) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if exc_type is None:
            pool.shutdown(wait=True)
            return
        # interrupted or failed: stop now instead of waiting for the motifs in training
        # (their results would be thrown away; the run resumes from its last checkpoint)
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for w in workers:
            w.terminate()

    def run(self, cells: Sequence[Cell], images: torch.Tensor, labels: torch.Tensor,
            cfg: PetriDishConfig, seeds: Sequence[int], want_grad: bool = False,
            progress: Callable[[int], object] | None = None) -> list[MotifResult]:
        """Train and score the motif of every cell (results in the order of ``cells``);
        ``progress(1)`` is called as each motif finishes."""
        MotifRunner.motifs_started += len(cells)
        imgs = images.detach().cpu().numpy()
        labs = labels.cpu().numpy()
        tasks = [(c.to_dict(), cfg.to_dict(), imgs, labs, int(s), want_grad)
                 for c, s in zip(cells, seeds)]
        if self._ray_task is not None:
            import ray

            return self._collect([self._ray_task.remote(t) for t in tasks], ray.get, progress)
        if self._pool is None or len(tasks) == 1:  # same result either way (single thread)
            return self._collect(tasks, _task, progress)
        with _sigint_blocked():  # workers start here, on demand: see _sigint_blocked
            futures = [self._pool.submit(_task, t) for t in tasks]
        try:
            return self._collect(futures, lambda f: f.result(), progress)
        except BrokenProcessPool as exc:
            raise WorkerError(
                "a worker process died while training a motif (killed, or out of memory?); "
                "use fewer --workers, then resume the run with --resume") from exc

    @staticmethod
    def _collect(items, get, progress) -> list[MotifResult]:
        out = []
        for item in items:  # in order, so that results line up with the cells
            out.append(get(item))
            if progress is not None:
                progress(1)
        return out


def _ray_remote(address: str | None):
    """The motif task as a Ray remote function (one CPU each); connects to
    ``address`` (``"auto"`` for a running cluster, ``ray://host:10001`` for a
    remote one) or starts a local Ray instance."""
    try:
        import ray
    except ImportError as exc:
        raise OptionalDependencyError(
            "the Ray backend needs Ray: pip install 'naslib-petridish[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    return ray.remote(num_cpus=1)(_task)
