"""The measure function of the autotuner: build, run and *check* each config.

``make_measure(target="vexriscv", n_parallel=None, scheduler=None, timeout_cycles=..., seed=0,
corrupt=None)`` returns a callable ``measure(task, configs) -> list[MeasureResult]``. Per config:
lower the template's schedule, emit C, cross-compile (the toolchain from the ``compiler`` knob),
simulate, and compare every output with the task's numpy reference (integers exactly, floats with
a tolerance). Outputs are pre-filled with a garbage pattern, so a kernel that skips elements is
caught. A wrong output is the error ``"wrong_result"`` and never gets a cost.

Errors are classified: ToolchainError / CodegenError / ScheduleError / LoweringError (and template
errors) -> ``"build"``; SimTimeout -> ``"timeout"``; TrapError / BusError -> ``"trap"``; anything
else -> ``"runtime"``.

Parallelism: a local process pool (spawn; each worker re-creates the task from its template
module, name, args and target) with ``n_parallel`` workers (default: the CPU count; ``1`` runs in
this process). With ``scheduler`` (``"HOST:PORT"``, a ``distributed.Client`` or a ``LocalCluster``)
the configs are mapped over a Dask cluster instead. ``measure.iter_results(task, configs)`` yields
``(position, result)`` as configs finish (the tuner writes each record at once).

Workers die with the tuner: each pool worker holds the read end of a pipe whose only write end is
in the tuner, and a watchdog thread in the worker exits the worker (killing its own child processes,
e.g. a compiler, first) as soon as that pipe reports end-of-file or the worker's parent pid changes,
i.e. when the tuner is gone, even by ``kill -9``. multiprocessing's resource tracker (the pool's
queues use named semaphores under ``spawn``) holds no reference of its own: it exits, unlinking
what is left, once the tuner and the workers have closed its pipe. ``PR_SET_PDEATHSIG`` is not
used: it fires when the parent *thread* that started a worker ends, and the pool starts workers
from whichever thread submits work, which need not live as long as the tuner.
With ``scheduler`` the tuner starts no processes: the Dask workers belong to the cluster and
outlive a tuner by design; when a killed tuner's client connection drops, the scheduler forgets
its futures (a task already running on a worker still runs to its end, its result is dropped).

``corrupt``: a test hook, ``corrupt(config_index, outputs) -> None`` that may change the output
arrays in place after the run (it must be picklable for a process pool: a module-level function);
``"flip_first"`` is a built-in that adds 1 to the first element of every output.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import numpy as np

from schedules.autotune.measure import MeasureResult
from schedules.autotune.space import COMPILER_KNOB, AutotuneError, parse_compiler
from tir.errors import CodegenError, DTypeError, LoweringError, ScheduleError

from .errors import BusError, SimTimeout, ToolchainError, TrapError
from .toolchain import Toolchain

DEFAULT_TIMEOUT_CYCLES = 20_000_000
GARBAGE = 0x5A


def classify(exc: BaseException) -> str:
    """The MeasureResult error kind of an exception."""
    if isinstance(exc, SimTimeout):
        return "timeout"
    if isinstance(exc, (TrapError, BusError)):
        return "trap"
    if isinstance(exc, (ToolchainError, CodegenError, ScheduleError, LoweringError, DTypeError, AutotuneError)):
        return "build"
    return "runtime"


def toolchain_of(config) -> Toolchain:
    """The Toolchain named by a config's ``compiler`` knob (default: zig -O2)."""
    if COMPILER_KNOB not in config:
        return Toolchain()
    compiler, opt, extra = parse_compiler(config[COMPILER_KNOB].val)
    return Toolchain(compiler, opt, extra)


def flip_first(config_index, outputs) -> None:
    """A deliberately wrong kernel: the first element of every output is off by one."""
    for o in outputs:
        o.flat[0] += 1


_CORRUPTIONS = {"flip_first": flip_first}
_REF_CACHE: dict = {}


def _data(task, seed):
    key = (task.key, seed)
    hit = _REF_CACHE.get(key)
    if hit is None:
        arrays = task.make_inputs(seed)
        expected = task.reference(task.input_arrays(arrays))
        hit = _REF_CACHE[key] = (arrays, expected)
        if len(_REF_CACHE) > 16:
            _REF_CACHE.pop(next(iter(_REF_CACHE)))
    return hit


def _compare(task, outputs, expected) -> str | None:
    for i, got, want in zip(task.output_indices, outputs, expected):
        name = task.arg_specs[i][3]
        if np.issubdtype(want.dtype, np.floating):
            bad = ~np.isclose(got, want, rtol=1e-4, atol=1e-5)
        else:
            bad = got != want
        n = int(np.count_nonzero(bad))
        if n:
            first = tuple(int(x) for x in np.argwhere(bad)[0])
            return (f"output {name!r}: {n} of {want.size} elements differ; first at {list(first)}: "
                    f"got {got[first]}, expected {want[first]}")
    return None


def measure_one(task, config_index: int, target: str, timeout_cycles: int, seed: int, corrupt=None) -> MeasureResult:
    """Build, run and check one config of ``task`` in this process."""
    from .run import run

    t0 = time.time()
    extra: dict = {}
    try:
        cfg = task.config(config_index)
        func = task.lower(cfg)
        arrays, expected = _data(task, seed)
        arrays = [a.copy() for a in arrays]
        for i in task.output_indices:
            a = arrays[i]
            if np.issubdtype(a.dtype, np.floating):
                a[...] = np.nan
            else:
                a.view(np.uint8)[...] = GARBAGE
        kw = {}
        if target == "vexriscv":
            tc = toolchain_of(cfg)
            kw = {"toolchain": tc, "max_cycles": int(timeout_cycles)}
            extra["compiler"] = cfg[COMPILER_KNOB].val if COMPILER_KNOB in cfg else "zig:-O2"
        res = run(func, arrays, target, **kw)
        outputs = [arrays[i] for i in task.output_indices]
        if corrupt is not None:
            fn = _CORRUPTIONS[corrupt] if isinstance(corrupt, str) else corrupt
            fn(config_index, outputs)
        if res.instret is not None:
            extra["instret"] = res.instret
        wrong = _compare(task, outputs, expected)
        if wrong is not None:
            return MeasureResult(config_index, None, "wrong_result", wrong, time.time(), time.time() - t0, extra)
        return MeasureResult(config_index, float(res.cost), None, "", time.time(), time.time() - t0, extra)
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        kind = classify(e)
        msg = f"{type(e).__name__}: {e}"
        if kind == "runtime":
            msg += "\n" + "".join(traceback.format_exception(e)[-3:])
        return MeasureResult(config_index, None, kind, msg[:4000], time.time(), time.time() - t0, extra)


def _remote_measure(module, name, args, target, config_index, timeout_cycles, seed, corrupt):
    """Entry point in a worker process: re-create the task, then measure."""
    from schedules.autotune.task import _recreate

    try:
        task = _recreate(module, name, tuple(args), target)
    except Exception as e:  # noqa: BLE001
        return MeasureResult(config_index, None, classify(e), f"cannot re-create task {name}{tuple(args)}: "
                                                              f"{type(e).__name__}: {e}", time.time(), 0.0)
    return measure_one(task, config_index, target, timeout_cycles, seed, corrupt)


def _kill_children() -> None:
    """SIGKILL this process's child processes (a worker's compiler or simulator runs)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    for t in tasks:
        try:
            with open(f"/proc/self/task/{t}/children") as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _watch_parent(parent_pid: int, conn) -> None:
    """Exit this worker once the tuner is gone: its end of ``conn`` closed, or we were re-parented."""
    while True:
        try:
            if conn.poll(1.0):  # nothing is ever sent: readable means end-of-file
                conn.recv_bytes()
        except (EOFError, OSError):
            break
        if os.getppid() != parent_pid:
            break
    _kill_children()
    os._exit(1)


def _worker_init(parent_pid: int, conn) -> None:
    """Pool worker initializer: start the watchdog that ends the worker with its parent."""
    if os.getppid() != parent_pid:  # the tuner died before this worker started
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, conn), name="isaforge-parent-watch",
                     daemon=True).start()


class Measure:
    """A measure function; see the module docstring. ``close()`` (or ``with``) ends the workers."""

    def __init__(self, target="vexriscv", n_parallel=None, scheduler=None,
                 timeout_cycles=DEFAULT_TIMEOUT_CYCLES, seed=0, corrupt=None):
        if target not in ("vexriscv", "host", "verilator"):
            raise AutotuneError(f"unknown measure target {target!r}")
        self.target = target
        self.timeout_cycles = timeout_cycles
        self.seed = seed
        self.corrupt = corrupt
        self.scheduler = scheduler
        self._client = None
        self._own_client = False
        self._pool = None
        self._lifeline = None  # (read end for the workers, write end kept here) of the pool's pipe
        if n_parallel is None:
            n_parallel = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.n_parallel = max(1, int(n_parallel))
        self.n_measured = 0

    # backends --------------------------------------------------------------------------------------
    def _dask(self):
        if self._client is None:
            import distributed

            sch = self.scheduler
            if isinstance(sch, distributed.Client):
                self._client = sch
            else:
                addr = getattr(sch, "scheduler_address", sch)
                if isinstance(addr, str) and "://" not in addr:
                    addr = "tcp://" + addr
                self._client = distributed.Client(addr, set_as_default=False)
                self._own_client = True
            if self.n_parallel == 1 or self.n_parallel is None:
                try:
                    self.n_parallel = max(1, sum(self._client.nthreads().values()))
                except Exception:  # noqa: BLE001
                    pass
        return self._client

    def _local_pool(self):
        if self._pool is None:
            ctx = get_context("spawn")
            reader, writer = ctx.Pipe(duplex=False)  # non-inheritable fds: only the workers get the reader
            self._lifeline = (reader, writer)
            self._pool = ProcessPoolExecutor(self.n_parallel, mp_context=ctx, initializer=_worker_init,
                                             initargs=(os.getpid(), reader))
        return self._pool

    def _drop_pool(self, wait: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)
        if self._lifeline is not None:
            for c in self._lifeline:  # workers still running (wait=False) exit on the end-of-file
                c.close()
            self._lifeline = None

    def _args(self, task, idx):
        return (task.module, task.name, list(task.args), task.target, idx, self.timeout_cycles, self.seed,
                self.corrupt)

    def iter_results(self, task, configs):
        """Yield ``(position, MeasureResult)`` as each config finishes."""
        idxs = [c.index if hasattr(c, "index") else int(c) for c in configs]
        if task.target != self.target:
            raise AutotuneError(f"task {task.key} is for target {task.target!r}, this measure runs {self.target!r}")
        self.n_measured += len(idxs)
        if self.scheduler is not None:
            from distributed import as_completed as dask_completed

            client = self._dask()
            futs = [client.submit(_remote_measure, *self._args(task, i), pure=False) for i in idxs]
            pos = {f.key: p for p, f in enumerate(futs)}
            with client.as_current():
                for fut in dask_completed(futs, raise_errors=False):
                    p = pos[fut.key]
                    try:
                        res = fut.result()
                    except Exception as e:  # noqa: BLE001 - a lost worker
                        res = MeasureResult(idxs[p], None, "runtime", f"dask: {type(e).__name__}: {e}", time.time())
                    yield p, res
            return
        if self.n_parallel == 1 or len(idxs) == 1 and self._pool is None:
            for p, i in enumerate(idxs):
                yield p, measure_one(task, i, self.target, self.timeout_cycles, self.seed, self.corrupt)
            return
        todo = list(range(len(idxs)))
        for attempt in range(2):  # a worker that died takes the pool down: retry the rest once
            pool = self._local_pool()
            futs = {pool.submit(_remote_measure, *self._args(task, idxs[p])): p for p in todo}
            failed = []
            for fut in as_completed(futs):
                p = futs[fut]
                try:
                    res = fut.result()
                except Exception as e:  # noqa: BLE001 - BrokenProcessPool: the pool is rebuilt
                    if attempt == 0:
                        failed.append(p)
                        continue
                    res = MeasureResult(idxs[p], None, "runtime", f"worker failed: {type(e).__name__}: {e}",
                                        time.time())
                yield p, res
            if not failed:
                return
            self._drop_pool(wait=False)
            todo = sorted(failed)

    def __call__(self, task, configs):
        out = [None] * len(configs)
        for p, r in self.iter_results(task, configs):
            out[p] = r
        return out

    def close(self):
        self._drop_pool(wait=True)
        if self._client is not None and self._own_client:
            self._client.close()
        self._client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self._drop_pool(wait=False)
        except Exception:  # noqa: BLE001
            pass


def make_measure(target: str = "vexriscv", n_parallel: int | None = None, scheduler=None,
                 timeout_cycles: int = DEFAULT_TIMEOUT_CYCLES, seed: int = 0, corrupt=None) -> Measure:
    """The autotuner's measure function for ``target``; see the module docstring."""
    return Measure(target, n_parallel, scheduler, timeout_cycles, seed, corrupt)


__all__ = ["DEFAULT_TIMEOUT_CYCLES", "Measure", "classify", "flip_first", "make_measure", "measure_one",
           "toolchain_of"]
