"""isa_search: custom-instruction search. Given a workload, find which instruction to add.

It enumerates candidate units (isa_ext.candidates: parametric families and the kernels' dataflow),
verifies each in Verilator, synthesizes it with Yosys, tunes every kernel of the workload with it on
the simulated VexRiscv and ranks the candidates by measured speedup against area. It tunes and
measures, so it sits above simulator in the package graph.
"""
