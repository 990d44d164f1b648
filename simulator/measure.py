"""The measure function of the autotuner: build, run and *check* each config.

``make_measure(target="vexriscv", n_parallel=None, scheduler=None, timeout_cycles=..., seed=0,
corrupt=None)`` returns a callable ``measure(task, configs) -> list[MeasureResult]`` (``target``: a
name or a codegen_c Target; its runner, ``simulator.run.runner_for``, builds and runs). Per config:
lower the template's schedule, emit C, cross-compile (rv32: the toolchain from the ``compiler`` knob),
simulate, and compare every output with the task's expected outputs (its numpy reference, or
``tir.evaluate`` of its tensor expression when it has none; integers exactly, floats with a
tolerance). Outputs are pre-filled with a garbage pattern, so a kernel that skips elements is
caught. A wrong output is the error ``"wrong_result"`` and never gets a cost.

Two halves. ``prepare(task, config, ...)`` runs in the tuning process: it instantiates the
template, lowers, emits the C source and computes inputs and expected outputs, giving a
:class:`Job`: plain, picklable data (C source, kernel name, arrays, expected outputs, output
names, CFU Verilog, toolchain, limits). ``run_job(job)`` compiles, simulates and checks a Job; it
is what pool and Dask workers run, and it never imports user code, so a template defined in
``__main__``, in a plain script without a main guard or in a notebook cell measures like a
built-in one. Cycle counts are those of ``simulator.run`` (the same C, toolchain and SoC).

Errors are classified: ToolchainError / CodegenError / ScheduleError / LoweringError (and template
errors) -> ``"build"``; SimTimeout -> ``"timeout"``; TrapError / BusError -> ``"trap"``; anything
else -> ``"runtime"``.

Parallelism: a local process pool with ``n_parallel`` workers (default: the CPU count; ``1`` runs
in this process). Workers are spawned with the parent's ``__main__`` hidden from multiprocessing
(:class:`CleanSpawnContext`): a plain spawn child re-runs the parent's main script as
``__mp_main__`` (``init_main_from_path`` / ``init_main_from_name`` of the preparation data), which
for a script without a main guard re-runs its tuning in every worker (and fails: "An attempt has
been made to start a new process before the current process has finished its bootstrapping
phase"). With ``scheduler`` (``"HOST:PORT"``, a ``distributed.Client`` or a ``LocalCluster``) the
Jobs are mapped over a Dask cluster instead. ``measure.iter_results(task, configs)`` yields
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
arrays in place after the run, in the worker (for a process pool it must be picklable and
importable there: a module-level function of an importable module, never of ``__main__``);
``"flip_first"`` is a built-in that adds 1 to the first element of every output.
"""

from __future__ import annotations

import multiprocessing.context
import os
import signal
import sys
import threading
import time
import traceback
import types
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

import codegen_c
from codegen_c.emit import c_function_name
from codegen_c.target import Target, get_target
from schedules.autotune import COMPILER_KNOB, AutotuneError, MeasureResult, parse_compiler
from tir.errors import CodegenError, DTypeError, LoweringError, ScheduleError

from .errors import BusError, SimTimeout, ToolchainError, TrapError
from .run import Runner, output_indices, runner_for
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


def toolchain_of(config, target: Target | str = "vexriscv") -> Toolchain | None:
    """The cross compiler of a config on ``target``: its ``compiler`` knob's, else the target's own
    (``vexriscv``: zig -O2); None for a target built by the host compiler (no knob applies)."""
    t = get_target(target)
    if t.toolchain() is None or COMPILER_KNOB not in config:
        return t.toolchain()
    return t.toolchain(*parse_compiler(config[COMPILER_KNOB].val))


def flip_first(config_index, outputs) -> None:
    """A deliberately wrong kernel: the first element of every output is off by one."""
    for o in outputs:
        o.flat[0] += 1


_CORRUPTIONS = {"flip_first": flip_first}
_REF_CACHE: dict = {}


def _data(task, seed):
    """Inputs and expected outputs of ``task`` at ``seed`` (cached: the reference runs once per task)."""
    key = (task.key, seed)
    hit = _REF_CACHE.get(key)
    if hit is None or hit[0] is not task.template:  # a template re-registered under the same name
        arrays = task.make_inputs(seed)
        expected = task.reference(task.input_arrays(arrays))
        hit = _REF_CACHE[key] = (task.template, arrays, expected)
        if len(_REF_CACHE) > 16:
            _REF_CACHE.pop(next(iter(_REF_CACHE)))
    return hit[1], hit[2]


@dataclass
class Job:
    """One config, built as far as it can be without a compiler: plain data a worker can run.

    ``arrays``: every kernel argument (outputs pre-filled with garbage); ``outputs``: the indices
    of the written ones, ``output_names`` their names and ``expected`` the arrays they must equal.
    ``target`` is the target's name, ``runner`` the simulator.run.Runner that filled the rest and runs
    the Job (``Runner.run_prepared``). vexriscv: ``source`` is the rv32im C, ``cfu_verilog`` the
    extensions' RTL, and ``toolchain`` / ``max_cycles`` / ``stack_bytes`` / ``wait_states`` / ``l2``
    (the target's RAM timing) what ``run_kernel`` takes.
    Host targets: ``source`` is the host C, ``cflags`` / ``link`` the compiler flags and libraries.
    """

    config_index: int
    target: str
    runner: Runner
    kernel_name: str
    source: str
    arrays: list
    outputs: list
    output_names: list
    expected: list
    cfu_verilog: str | None = None
    toolchain: Toolchain | None = None
    max_cycles: int = DEFAULT_TIMEOUT_CYCLES
    stack_bytes: int = 0
    wait_states: int = 0
    l2: object = None  # codegen_c.rv32.L2Timing | None
    split: bool | None = None  # vexriscv: the SoC build (simulator.vexriscv.build_soc's split), None: the worker's
    access: object = None  # vexriscv: the kernel's reads (simulator.placement.AccessTrace) its placement uses
    cflags: tuple = ()
    link: tuple = ()
    corrupt: object = None
    extra: dict = field(default_factory=dict)


def prepare(task, config, target: Target | str, timeout_cycles: int = DEFAULT_TIMEOUT_CYCLES, seed: int = 0,
            corrupt=None) -> Job:
    """The Job of one config of ``task``: lower, emit and compute the expected outputs, in this process."""
    t = get_target(target)
    runner = runner_for(t)
    cfg = task.config(config)
    func = task.lower(cfg)
    arrays, expected = _data(task, seed)
    arrays = [a.copy() for a in arrays]
    for i in task.output_indices:
        a = arrays[i]
        if np.issubdtype(a.dtype, np.floating):
            a[...] = np.nan
        else:
            a.view(np.uint8)[...] = GARBAGE
    codegen_c.check_arrays(func, arrays)
    outs = output_indices(func)
    if outs != list(task.output_indices):
        raise AutotuneError(f"task {task.key}: config {cfg.index} writes args {outs}, the task's outputs are "
                            f"{task.output_indices}")
    job = Job(cfg.index, t.name, runner, c_function_name(func), "", arrays, outs,
              [task.arg_specs[i][3] for i in outs], [np.asarray(e) for e in expected], corrupt=corrupt)
    # a cross-compiled target's compiler is a tuning knob ("compiler"); a host target has none
    toolchain = toolchain_of(cfg, t)
    for k, v in runner.prepare(func, t, toolchain=toolchain, max_cycles=timeout_cycles).items():
        setattr(job, k, v)
    if toolchain is not None:
        job.extra["compiler"] = cfg[COMPILER_KNOB].val if COMPILER_KNOB in cfg else t.default_compiler
    return job


def _compare(job: Job, outputs) -> str | None:
    for name, got, want in zip(job.output_names, outputs, job.expected):
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


def _failed(index: int, e: BaseException, t0: float, extra: dict) -> MeasureResult:
    kind = classify(e)
    msg = f"{type(e).__name__}: {e}"
    if kind == "runtime":
        msg += "\n" + "".join(traceback.format_exception(e)[-3:])
    return MeasureResult(index, None, kind, msg[:4000], time.time(), time.time() - t0, extra)


def run_job(job: Job) -> MeasureResult:
    """Compile, run and check a Job (in whatever process runs it): a classified MeasureResult."""
    t0 = time.time()
    extra = dict(job.extra)
    try:
        res = job.runner.run_prepared(job)
        outputs = [job.arrays[i] for i in job.outputs]
        if job.corrupt is not None:
            fn = _CORRUPTIONS[job.corrupt] if isinstance(job.corrupt, str) else job.corrupt
            fn(job.config_index, outputs)
        if res.instret is not None:
            extra["instret"] = res.instret
        wrong = _compare(job, outputs)
        if wrong is not None:
            return MeasureResult(job.config_index, None, "wrong_result", wrong, time.time(), time.time() - t0, extra)
        return MeasureResult(job.config_index, float(res.cost), None, "", time.time(), time.time() - t0, extra)
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        return _failed(job.config_index, e, t0, extra)


def _prepare_or_fail(task, config_index: int, target: Target | str, timeout_cycles: int, seed: int, corrupt):
    """``prepare``, or the MeasureResult of why the config cannot be built (a template error is "build")."""
    t0 = time.time()
    try:
        return prepare(task, config_index, target, timeout_cycles, seed, corrupt)
    except Exception as e:  # noqa: BLE001
        return _failed(config_index, e, t0, {})


def measure_one(task, config_index: int, target: Target | str, timeout_cycles: int, seed: int,
                corrupt=None) -> MeasureResult:
    """Build, run and check one config of ``task`` in this process."""
    job = _prepare_or_fail(task, config_index, target, timeout_cycles, seed, corrupt)
    return job if isinstance(job, MeasureResult) else run_job(job)


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


_MAIN_LOCK = threading.Lock()


def _start_without_main(process_obj):
    """Start a spawn child with ``sys.modules['__main__']`` replaced by an empty module meanwhile.

    multiprocessing's spawn reads the parent's main module (its ``__spec__`` name, else its
    ``__file__``) into the child's preparation data, and the child runs that module again as
    ``__mp_main__`` before it unpickles anything. A worker here needs nothing from the user's
    main module (Jobs are plain data, run by this module), so it is hidden while the child's
    preparation data is taken: the child starts with a main of its own, whatever the parent ran.
    """
    from multiprocessing.popen_spawn_posix import Popen

    with _MAIN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return Popen(process_obj)
        finally:
            if main is not None:
                sys.modules["__main__"] = main


class CleanSpawnProcess(multiprocessing.context.SpawnProcess):
    """A spawn Process whose child never re-imports the parent's ``__main__``."""

    _start_method = "spawn"

    @staticmethod
    def _Popen(process_obj):
        return _start_without_main(process_obj)


class CleanSpawnContext(multiprocessing.context.SpawnContext):
    """The ``spawn`` context with :class:`CleanSpawnProcess`: the measurement pool's workers."""

    Process = CleanSpawnProcess


class Measure:
    """A measure function; see the module docstring. ``close()`` (or ``with``) ends the workers."""

    def __init__(self, target="vexriscv", n_parallel=None, scheduler=None,
                 timeout_cycles=DEFAULT_TIMEOUT_CYCLES, seed=0, corrupt=None):
        self.target = get_target(target)
        self.runner = runner_for(self.target)  # a target simulator cannot run fails here, not per config
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
    def dask_client(self):
        """The ``distributed.Client`` of this measure's Dask scheduler (connected on first use), so a
        caller can run its own work (e.g. the instruction search's verification) on the same cluster."""
        if self.scheduler is None:
            raise AutotuneError("dask_client: this measure has no Dask scheduler (make_measure(scheduler=...))")
        return self._dask()

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
            ctx = CleanSpawnContext()
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

    def _jobs(self, task, idxs):
        """Yield ``(position, Job or MeasureResult)``: each config built here, as far as a worker needs it."""
        for p, i in enumerate(idxs):
            yield p, _prepare_or_fail(task, i, self.target, self.timeout_cycles, self.seed, self.corrupt)

    def iter_results(self, task, configs):
        """Yield ``(position, MeasureResult)`` as each config finishes."""
        idxs = [c.index if hasattr(c, "index") else int(c) for c in configs]
        if task.target != self.target.name:
            raise AutotuneError(f"task {task.key} is for target {task.target!r}, this measure runs "
                                f"{self.target.name!r}")
        self.n_measured += len(idxs)
        if self.scheduler is not None:
            from distributed import as_completed as dask_completed

            client = self._dask()
            futs, pos = [], {}
            for p, job in self._jobs(task, idxs):
                if isinstance(job, MeasureResult):  # it did not build: nothing to run
                    yield p, job
                    continue
                fut = client.submit(run_job, job, pure=False)
                pos[fut.key] = p
                futs.append(fut)
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
            for p, job in self._jobs(task, idxs):
                yield p, job if isinstance(job, MeasureResult) else run_job(job)
            return
        jobs: dict[int, Job] = {}
        pool = self._local_pool()
        futs = {}
        for p, job in self._jobs(task, idxs):  # submitted as built: the workers start at once
            if isinstance(job, MeasureResult):
                yield p, job
                continue
            jobs[p] = job
            futs[pool.submit(run_job, job)] = p
        for attempt in range(2):  # a worker that died takes the pool down: retry the rest once
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
            pool = self._local_pool()
            futs = {pool.submit(run_job, jobs[p]): p for p in sorted(failed)}

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


def make_measure(target: Target | str = "vexriscv", n_parallel: int | None = None, scheduler=None,
                 timeout_cycles: int = DEFAULT_TIMEOUT_CYCLES, seed: int = 0, corrupt=None) -> Measure:
    """The autotuner's measure function for ``target``; see the module docstring."""
    return Measure(target, n_parallel, scheduler, timeout_cycles, seed, corrupt)


__all__ = ["CleanSpawnContext", "CleanSpawnProcess", "DEFAULT_TIMEOUT_CYCLES", "Job", "Measure", "classify",
           "flip_first", "make_measure", "measure_one", "prepare", "run_job",
           "toolchain_of"]
