"""isa_search: custom-instruction search. Given a workload, find which instruction to add.

It enumerates candidate units (isa_ext.candidates: parametric families and the kernels' dataflow),
verifies each in Verilator, synthesizes it with Yosys, tunes every kernel of the workload with it on
the simulated VexRiscv and ranks the candidates by measured speedup against area. It tunes and
measures, so it sits above simulator in the package graph.

    from isa_search import search_isa, format_table
    rep = search_isa("matmul_i8_64", budget_s=1800, records="isa.jsonl", out_dir="out/isa")
    print(format_table(rep))

A model file is a workload too (``search_isa("model.tflite", calibration=samples, ...)``: its int8
kernels, :mod:`isa_search.model`).

Modules: workloads (Workload, Kernel, the shipped workloads), model (a model file's kernels), stages
(the fixed-schedule stage template), search (search_isa, SearchReport), report (table, Pareto front, PNG, JSON).
"""

from .model import model_workload
from .report import capacity, format_table, mark_pareto, non_dominated, plot_front, write_report
from .search import CandidateResult, KernelResult, SearchProgress, SearchReport, Status, search_isa
from .workloads import WORKLOADS, Kernel, Workload, WorkloadError, load_workload

__all__ = ["WORKLOADS", "CandidateResult", "Kernel", "KernelResult", "SearchProgress", "SearchReport", "Status",
           "Workload", "WorkloadError", "capacity", "format_table", "load_workload", "mark_pareto", "model_workload",
           "non_dominated", "plot_front", "search_isa", "write_report"]
