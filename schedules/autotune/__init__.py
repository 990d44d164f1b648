"""AutoTVM-style autotuning of schedule templates.

    from schedules import autotune
    task = autotune.create_task("matmul_i8", (32, 32, 32), "vexriscv")
    from simulator.measure import make_measure
    res = autotune.GATuner(task).tune(64, make_measure("vexriscv"), records="mm.jsonl",
                                      callbacks=[autotune.progress_bar()])
    s, args = autotune.apply_history_best("mm.jsonl").schedule(task)

Modules: space (templates, knobs, ConfigSpace/ConfigEntity), task, measure (MeasureResult),
tuner (+ random_tuner, grid_tuner, ga_tuner; xgb_tuner), records, templates (built-in templates,
registered when first needed).
"""

from .ga_tuner import GATuner
from .grid_tuner import GridSearchTuner
from .measure import ERROR_KINDS, MeasureResult
from .random_tuner import RandomTuner
from .records import (
    ApplyHistoryBest,
    Record,
    RecordProblem,
    RecordWarning,
    RecordWriter,
    apply_history_best,
    best_records,
    load_records,
)
from .space import (
    COMPILER_KNOB,
    DEFAULT_COMPILERS,
    AutotuneError,
    ConfigEntity,
    ConfigSpace,
    get_config,
    get_template,
    parse_compiler,
    template,
)
from .task import Task, create_task
from .tuner import ProgressBar, Tuner, TuneResult, progress_bar
from .xgb_tuner import ModelBasedTuner, XGBTuner  # noqa: E402 (after the core it builds on)

TUNERS = {"random": RandomTuner, "grid": GridSearchTuner, "ga": GATuner, "xgb": XGBTuner}


def get_tuner(name: str):
    """A tuner class by name: random, grid, ga or xgb."""
    if name not in TUNERS:
        raise AutotuneError(f"unknown tuner {name!r}; expected one of {', '.join(TUNERS)}")
    return TUNERS[name]


__all__ = [
    "COMPILER_KNOB", "DEFAULT_COMPILERS", "ERROR_KINDS", "ApplyHistoryBest", "AutotuneError", "ConfigEntity",
    "ConfigSpace", "GATuner", "GridSearchTuner", "MeasureResult", "ProgressBar", "RandomTuner", "Record",
    "RecordProblem", "RecordWarning", "RecordWriter", "Task", "TuneResult", "Tuner", "apply_history_best",
    "best_records", "create_task", "get_config", "get_template", "get_tuner", "load_records", "parse_compiler",
    "progress_bar", "template", "ModelBasedTuner", "XGBTuner",
]
