"""isa_search: the custom-instruction search on the simulated VexRiscv (real Verilator, Yosys, XGBoost).

A tiny workload (int8 matmul 16x16x16), few trials and a few candidates: a dot product, an
accumulator bank, a dot product of int16 lanes (which today's templates cannot use on int8 data),
and two deliberately broken test families: one whose RTL computes a wrong answer (verification
must fail) and one whose Verilog only Verilator accepts (synthesis must fail).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from isa_ext import get as isa_ext_get
from isa_ext.area import FPGA_PARTS, FpgaPart, over_capacity
from isa_ext.candidates import CandidateSpec, Family, register_family
from isa_ext.errors import ExtensionError
from isa_ext.library import dot_product_extension
from isa_search import Status, capacity, format_table, load_workload, non_dominated, search_isa
from isa_search.report import dominates
from schedules.autotune.records import load_records

ROOT = Path(__file__).resolve().parent.parent
TRIALS = 6
VERIFY_N = 500

_CORRECT = "rd = op_dot ? dp_dot : 32'd0;"


def _wrong_rtl(spec):
    """A dot4 whose RTL flips the low bit of the result: the C model and reference stay right."""
    ext = dot_product_extension(spec.ext_name, 4, 8, True, funct3=0, funct7=0)
    assert _CORRECT in ext.verilog_comb
    ext.verilog_comb = ext.verilog_comb.replace(_CORRECT, "rd = op_dot ? (dp_dot ^ 32'd1) : 32'd0;")
    return ext


def _unsynthesizable(spec):
    """A correct dot4 whose Verilog has a statement only Verilator skips (outside `ifdef VERILATOR`)."""
    ext = dot_product_extension(spec.ext_name, 4, 8, True, funct3=0, funct7=0)
    ext.verilog_comb += "\n`ifndef VERILATOR\n    this is not verilog;\n`endif"
    return ext


def _grid():
    return []  # only given explicitly: not part of any default enumeration


register_family(Family("test_wrong_rtl", "a dot4 with broken RTL (test only)", _grid, _wrong_rtl,
                       lambda s: "dot4 whose RTL is off by one"), replace=True)
register_family(Family("test_no_synth", "a dot4 Yosys cannot read (test only)", _grid, _unsynthesizable,
                       lambda s: "dot4 with Verilog only Verilator reads"), replace=True)

SPECS = [
    CandidateSpec.of("dot", lanes=4, dtype="int8"),
    CandidateSpec.of("mac_bank", n_acc=16, lanes=4, dtype="int8"),
    CandidateSpec.of("dot", lanes=2, dtype="int16"),
    CandidateSpec.of("test_wrong_rtl", lanes=4),
    CandidateSpec.of("test_no_synth", lanes=4),
]


def _search(tmp, **kw):
    kw.setdefault("candidates", SPECS)
    return search_isa("matmul_i8_16", budget_s=1200, records=tmp / "isa.jsonl", out_dir=tmp / "out",
                      trials_per_kernel=TRIALS, verify_n=VERIFY_N, audit=1, n_parallel=2, **kw)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("isa")
    events = []
    rep = _search(tmp, progress=events.append)
    return rep, tmp, events


def _best_cost(path, task_key):
    recs, _ = load_records(path, warn=False)
    costs = [r.result.cost for r in recs if r.task == task_key and r.result.valid]
    return min(costs)


def test_baseline_and_speedups_are_the_measured_sums(run):
    rep, tmp, _ = run
    recs = tmp / "isa.jsonl"
    assert rep.baseline_cycles == sum(k.count * k.cycles for k in rep.baseline)
    for k in rep.baseline:
        assert k.cycles == _best_cost(recs, k.task) and k.task.endswith('"]@vexriscv')
    ranked = rep.ranked()
    assert ranked and [c.cycles for c in ranked] == sorted(c.cycles for c in ranked)
    for c in ranked + [rep.reference]:
        assert c.cycles == sum(k.count * k.cycles for k in c.kernels)
        assert c.speedup == pytest.approx(rep.baseline_cycles / c.cycles)
        assert c.speedup > 1
        for k in c.kernels:
            if k.uses_unit:  # the unit's best, measured and checked against numpy in the records
                assert k.cycles == _best_cost(recs, k.task) and k.cycles < rep.baseline[0].cycles
                assert c.exts[0] in k.task
    # a dot-product-like unit is among the top candidates of a matmul
    assert {CandidateSpec.from_json(c.spec).family for c in ranked[:2]} & {"dot", "mac_bank"}


def test_front_is_non_dominated_and_marked(run):
    rep, _, _ = run
    front = rep.front()
    assert front and non_dominated([(c.cycles, c.lut) for c in front])
    for c in rep.ranked():  # everything off the front is dominated by a front member
        if not c.pareto:
            assert any(dominates((f.cycles, f.lut), (c.cycles, c.lut)) for f in front)
    table = format_table(rep)
    assert "*" in table and "rv32im" in table and "x/kLUT" in table
    # each unit's LUTs also as a share of the CPU's, from the same Yosys flow
    assert "of CPU" in table and f"VexRiscv_FullCfu's {rep.cpu_area['lut']:,}" in table
    lines = table.splitlines()
    for c in rep.ranked():
        row = next(ln for ln in lines if ln.split()[1] == c.name.split("+")[0] or c.exts[0] in ln.split()[1])
        assert f" {c.lut} " in row and f"{100 * c.lut / rep.cpu_area['lut']:.0f}%" in row, row
    for c in rep.ranked():
        assert c.name.split("+")[0] in table.replace("{", ".").replace(".", " ") or c.exts[0] in table


def test_table_says_whether_each_unit_fits_the_board(run):
    """The fits column: each ranked unit with the CPU against the Arty A7's FPGA, from the Yosys figures."""
    rep, _, _ = run
    table = format_table(rep)
    assert "fits" in table and "XC7A35T" in table
    fits = capacity(rep, "a7-35t")
    for c in rep.ranked():
        assert fits[c.key] == over_capacity(c.area, "a7-35t", rep.cpu_area)
    assert "capacity" in rep.to_json() and set(rep.to_json()["capacity"]) == {"a7-35t", "a7-100t"}
    big = format_table(rep, part="a7-100t")
    assert "XC7A100T" in big


def test_over_capacity_names_what_overflows():
    unit = {"lut": 4000, "ff": 9000, "dsp": 128, "bram": 0}
    cpu = {"lut": 1900, "ff": 1200, "dsp": 4, "bram": 2}
    assert over_capacity(unit, "a7-35t") == ["DSP 128/90"]
    assert over_capacity(unit, "a7-35t", cpu) == ["DSP 132/90"]
    assert over_capacity(unit, "a7-100t", cpu) == []
    assert over_capacity({**unit, "lut": 19000}, FPGA_PARTS["a7-35t"], cpu) == ["LUT 20900/20800", "DSP 132/90"]
    with pytest.raises(ExtensionError, match="unknown FPGA part"):
        over_capacity(unit, "zynq")


def test_ranked_candidates_passed_verification_and_synthesis(run):
    rep, _, _ = run
    for c in rep.ranked() + [rep.reference]:
        assert c.verify is not None and c.verify["n_ops"] >= VERIFY_N, c.key
        assert 20 <= c.area["lut"] <= 2000 and c.area["logic_depth"] > 0, c.area
        if rep.cpu_area is not None:
            assert 0 < c.area_fraction["lut"] < 1


def test_broken_units_are_reported_not_ranked(run):
    rep, _, _ = run
    by = {CandidateSpec.from_json(c.spec).family: c for c in rep.candidates}
    bad = by["test_wrong_rtl"]
    assert bad.status == Status.VERIFY_FAILED and bad.status.generator_bug
    assert "disagree" in bad.reason and "RTL" in bad.reason and bad.cycles is None
    nosyn = by["test_no_synth"]
    assert nosyn.verify is not None  # Verilator accepted it and it computes the right answers
    assert nosyn.status == Status.SYNTHESIS_FAILED and nosyn.area is None and nosyn.cycles is None
    ranked = {c.key for c in rep.ranked()}
    assert bad.key not in ranked and nosyn.key not in ranked
    table = format_table(rep)
    assert "verify_failed" in table and "synthesis_failed" in table


def test_pruning_is_reported_and_checked(run):
    rep, _, events = run
    audit = rep.prune_audit()
    pruned = rep.by_status(Status.PRUNED)
    assert audit["pruned"] == len(pruned)
    assert not audit["winners_pruned"]
    for c in pruned:
        assert c.estimate is not None and "estimate" in c.reason
        if c.audited:
            assert c.cycles is not None and c.would_have_won is False
    assert {e.phase for e in events} >= {"baseline", "verify", "measure", "done"}


def _pruned_search(tmp_path, margin: float, reference: bool):
    return search_isa("matmul_i8_16", budget_s=1200, records=tmp_path / f"p{margin:g}{reference}.jsonl",
                      trials_per_kernel=TRIALS, candidates=SPECS[:2], verify_n=VERIFY_N, audit=2, n_parallel=2,
                      prune_margin=margin, combine=False, reference=reference)


def _check_audit(rep) -> list[str]:
    """Both units pruned and audited, each's verdict against what was measured with at most its LUTs
    before the audit; returns the pruned winners."""
    pruned = rep.by_status(Status.PRUNED)
    assert {c.key for c in pruned} == {s.key for s in SPECS[:2]} and not rep.ranked()
    ref = rep.reference
    for c in pruned:
        assert "better it would lose to" in c.reason and c.audited and c.cycles is not None
        rival = min([rep.baseline_cycles] + ([ref.cycles] if ref is not None and ref.lut <= c.lut else []))
        assert c.would_have_won == (c.cycles < rival)
    winners = [c.key for c in pruned if c.would_have_won]
    assert rep.prune_audit() == {"pruned": 2, "audited": 2, "winners_pruned": winners}
    return winners


def test_a_wide_prune_margin_prunes_and_the_audit_reports_pruned_winners(run, tmp_path):
    """The prune margin widened (prune unless the estimate beats what was measured with at most the
    unit's LUTs by 3x, or 10x): units the default margin ranked are pruned, the audit measures them and
    says whether each would have reached the front."""
    rep0, _, _ = run
    assert {s.key for s in SPECS[:2]} <= {c.key for c in rep0.ranked()}  # the default margin ranked both
    # after the hand dot4 (37 LUTs) is measured: neither unit is 3x better than it, neither beats it
    rep = _pruned_search(tmp_path, 3.0, True)
    assert _check_audit(rep) == []
    assert "even 0.33x better it would lose" in rep.by_status(Status.PRUNED)[0].reason
    assert "would not win" in format_table(rep) and "WOULD HAVE WON" not in format_table(rep)
    # without the reference only rv32im was measured: at 10x both are pruned, and both beat rv32im, so the
    # audit reports both as pruned winners
    rep = _pruned_search(tmp_path, 10.0, False)
    assert sorted(_check_audit(rep)) == sorted(s.key for s in SPECS[:2])
    assert format_table(rep).count("WOULD HAVE WON") == 2


def _fresh_dot(spec):
    """A correct dot4 whose Verilog carries a comment unique to this test process: a content hash no
    SoC model in the cache has yet."""
    ext = dot_product_extension(spec.ext_name, 4, 8, True, funct3=0, funct7=0)
    ext.verilog_comb += f"\n    // test_fresh_unit {os.getpid()} {time.time_ns()}"
    return ext


register_family(Family("test_fresh_unit", "a dot4 of new Verilog (test only)", _grid, _fresh_dot,
                       lambda s: "dot4 with a unique comment"), replace=True)


def test_each_unit_s_soc_build_is_timed_and_reported(run, tmp_path):
    """The search builds each unit's SoC model before measuring it and reports the seconds: a unit of new
    Verilog is built (split build: its own model linked to the cached CPU), a known one found cached."""
    from simulator.run import cfu_verilog
    from simulator.soc_split import SPLIT_STATS
    from simulator.vexriscv import build_soc

    rep0, _, _ = run
    for c in [*rep0.ranked(), rep0.reference]:
        assert c.soc_build is not None and c.soc_build["split"] and "error" not in c.soc_build
    spec = CandidateSpec.of("test_fresh_unit", lanes=4)
    rep = search_isa("matmul_i8_16", budget_s=1200, records=tmp_path / "b.jsonl", trials_per_kernel=2,
                     candidates=[spec], verify_n=VERIFY_N, n_parallel=2, combine=False)
    (c,) = rep.candidates
    assert c.status == Status.RANKED and c.soc_build["cached"] is False and c.soc_build["seconds"] > 0.5
    assert rep.reference.soc_build["cached"] is True  # dot4_i8's model: built by the run fixture
    stats = rep.build_stats()
    assert stats["built"] == 1 and stats["median_s"] == c.soc_build["seconds"] and stats["split"]
    assert "SoC models: 1 units built before measuring (split build" in format_table(rep)
    assert rep.to_json()["soc_builds"] == stats
    # the model is in the cache for the measurement processes: building it again builds nothing
    ext = isa_ext_get(c.exts[0])
    before = SPLIT_STATS.cfu_builds
    build_soc(cfu_verilog([ext]), split=True)
    assert SPLIT_STATS.cfu_builds == before


def test_dataflow_candidates_join_the_search(tmp_path):
    """With ``dataflow=True`` the search also builds, verifies, synthesizes and measures the dataflow
    generator's patterns of the workload's own kernels (here: a requantize stage's clamp), reported with
    their evidence beside the families' candidates."""
    from isa_search.workloads import Workload, requant_kernel

    wl = Workload("rq", (requant_kernel("requant 64", (1, 64)),))
    rep = search_isa(wl, budget_s=600, records=tmp_path / "df.jsonl", trials_per_kernel=2, families=["requant"],
                     dataflow=True, dataflow_top=2, verify_n=VERIFY_N, n_parallel=2, combine=False, reference=False)
    fam = [c for c in rep.candidates if c.source == "family"]
    flow = [c for c in rep.candidates if c.source == "dataflow"]
    assert {CandidateSpec.from_json(c.spec).family for c in fam} == {"requant"} and fam[0].status == Status.RANKED
    assert flow and not rep.notes
    for c in flow:
        assert CandidateSpec.from_json(c.spec).family == "fused" and c.key not in {f.key for f in fam}
        assert c.evidence.startswith("dataflow: ") and "in requant 64" in c.evidence
        assert c.verify is not None and c.area is not None and c.cycles is not None  # checked, then measured
        assert c.status in (Status.RANKED, Status.NO_GAIN)
    # without the generator only the family is searched
    rep2 = search_isa(wl, budget_s=600, records=tmp_path / "df2.jsonl", trials_per_kernel=2, families=["requant"],
                      dataflow=False, verify_n=VERIFY_N, n_parallel=2, combine=False, reference=False)
    assert {c.source for c in rep2.candidates} == {"family"}


def test_later_units_start_from_the_earlier_units_best_schedules(run):
    """Transfer between candidates: a unit measured after others first measures their best configs of the
    same kernel with itself in their place (records with tuner_pick source "transfer"); the others'
    records also train its model (transfer learning)."""
    _, tmp, _ = run
    recs, _ = load_records(tmp / "isa.jsonl", warn=False)
    unit_tasks = []  # the unit tasks of the kernel in measuring order
    for r in recs:
        if r.args[-1] and r.task not in unit_tasks:
            unit_tasks.append(r.task)
    assert len(unit_tasks) >= 2
    seeded = 0
    for j, task in enumerate(unit_tasks[1:], 1):
        earlier = [r for r in recs if r.task in unit_tasks[:j] and r.result.valid]
        best = {}
        for r in earlier:
            if r.task not in best or r.result.cost < best[r.task].result.cost:
                best[r.task] = r
        want = [{k: v for k, v in b.config["knobs"].items() if k != "tensorize"} for b in best.values()]
        mine = [r for r in recs if r.task == task]
        picks = [r for r in mine if (r.result.extra or {}).get("tuner_pick", {}).get("source") == "transfer"]
        for r in picks:
            knobs = r.config["knobs"]
            assert {k: v for k, v in knobs.items() if k != "tensorize"} in want
            assert knobs.get("tensorize") is None or knobs["tensorize"] in r.args[-1].split(",")  # this unit
        # the seeds lead the first batch (its records in the order the parallel measurements finished)
        first = {r.config_index for r in mine[:max(4, min(16, TRIALS))]}
        assert {r.config_index for r in picks} <= first
        seeded += len(picks)
    assert seeded >= 1


def test_json_and_png_written(run):
    rep, tmp, _ = run
    d = json.loads((tmp / "out" / "search.json").read_text())
    assert d["baseline_cycles"] == rep.baseline_cycles
    assert len(d["candidates"]) == len(SPECS)
    st = {c["key"]: c["status"] for c in d["candidates"]}
    assert st["test_wrong_rtl(lanes=4)"] == "verify_failed"
    assert d["ranking"] == [c.key for c in rep.ranked()]
    assert (tmp / "out" / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dask_local_cluster_gives_the_same_ranking(run, tmp_path):
    distributed = pytest.importorskip("distributed")
    rep, _, _ = run
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        rep2 = _search(tmp_path, scheduler=cluster.scheduler_address)
    assert rep2.n_measured > 0 and rep2.n_resumed == 0
    assert not [n for n in rep2.notes if "locally" in n]  # verification and synthesis ran on the cluster too
    assert [(c.key, c.status, c.verify["n_ops"] if c.verify else None) for c in rep2.candidates] == \
        [(c.key, c.status, c.verify["n_ops"] if c.verify else None) for c in rep.candidates]
    assert [(c.key, c.cycles) for c in rep2.ranked()] == [(c.key, c.cycles) for c in rep.ranked()]
    assert rep2.baseline_cycles == rep.baseline_cycles


def test_no_mac_unit_for_a_max_pool(tmp_path):
    rep = search_isa("max_pool", budget_s=600, records=tmp_path / "mp.jsonl", trials_per_kernel=TRIALS,
                     candidates=SPECS[:2], verify_n=VERIFY_N, n_parallel=2)
    assert load_workload("max_pool").macs() == 0
    assert not rep.ranked()
    for c in rep.candidates:
        assert c.status == Status.NO_GAIN and c.cycles == rep.baseline_cycles
    assert rep.reference.status == Status.NO_GAIN
    assert "no_gain" in format_table(rep)


def test_simd_add_and_relu_for_int8_activations(tmp_path):
    """A workload with no multiply-accumulate (an int8 add and relu over an 8x8x32 map): the search
    proposes lane-parallel units (the fused family's SIMD relu, the dataflow generator's SIMD add, 4 byte
    lanes per op with word loads and stores), each at least 2x faster than the scalar code on its
    kernel, no MAC unit, and one CFU holding both (re-encoded to share it) for the whole workload."""
    rep = search_isa("act_i8", budget_s=900, records=tmp_path / "act.jsonl", trials_per_kernel=4,
                     families=["fused", "dot"], dataflow=True, verify_n=VERIFY_N, n_parallel=2, reference=False)
    assert load_workload("act_i8").macs() == 0
    base = {k.label: k.cycles for k in rep.baseline}
    singles = [c for c in rep.ranked() if c.source != "combination"]
    for label in base:  # each kernel: a lane-parallel unit at least 2x faster than scalar
        best = min((k.cycles, c) for c in singles for k in c.kernels if k.label == label and k.uses_unit)
        spec = CandidateSpec.from_json(best[1].spec)
        assert spec.family == "fused" and spec.p["lanes"] == 4 and 2 * best[0] <= base[label], (label, best)
    assert {c.source for c in singles} == {"family", "dataflow"}
    assert not [c for c in rep.ranked() if c.spec and CandidateSpec.from_json(c.spec).family == "dot"]
    (combo,) = [c for c in rep.candidates if c.source == "combination"]
    assert combo.status == Status.RANKED and combo.verify is not None and rep.ranked()[0] is combo
    assert all(k.uses_unit for k in combo.kernels) and combo.speedup >= 2.5
    assert any("re-encoded" in n for n in rep.notes), rep.notes


def test_combination_re_encodes_units_of_one_family(tmp_path):
    """Two stationary units (their default encodings collide): the 4-column one for the matmul, the
    2-column one for a dense layer of 3 columns (fewer than 4). The combination re-encodes the second,
    verifies both in one CFU (verify_set) and measures it, every output checked against numpy."""
    from isa_search.workloads import Kernel, Workload

    wl = Workload("two_rows", (Kernel("matmul 32", "matmul_i8", (32, 32, 32)), Kernel("dense 32->3", "dense_i8",
                                                                                       (1, 3, 32))))
    specs = [CandidateSpec.of("stationary", cols=4, k=32, dtype="int8"),
             CandidateSpec.of("stationary", cols=2, k=32, dtype="int8")]
    rep = search_isa(wl, budget_s=1200, records=tmp_path / "rows.jsonl", trials_per_kernel=4, candidates=specs,
                     verify_n=VERIFY_N, audit=0, n_parallel=2, reference=False, dataflow=False)
    combos = [c for c in rep.candidates if c.source == "combination"]
    assert len(combos) == 1, rep.notes
    combo = combos[0]
    assert combo.verify is not None and combo.status == Status.RANKED, (combo.status, combo.reason)
    assert any("re-encoded as stationary(cols=2,dtype=int8,funct3=" in n for n in rep.notes), rep.notes
    used = {k.label: k.units for k in combo.kernels}
    assert used["matmul 32"] == [specs[0].ext_name] and used["dense 32->3"][0].startswith("c_stationary_2_int8_")
    singles = {c.key: c.cycles for c in rep.candidates if c.source != "combination"}
    assert combo.cycles <= min(singles.values())


def test_a_combination_that_fits_the_part_when_the_best_does_not(tmp_path):
    """The best combination (the 4-column stationary unit for the matmul, the dot unit for the dense
    layer) overflows a part's DSPs; the search then also measures the fastest combination whose summed
    areas fit (the 2-column unit for the matmul), synthesizes it and ranks it: it fits."""
    from isa_search.workloads import Kernel, Workload

    wl = Workload("two_rows", (Kernel("matmul 32", "matmul_i8", (32, 32, 32)), Kernel("dense 32->3", "dense_i8",
                                                                                       (1, 3, 32))))
    specs = [CandidateSpec.of("stationary", cols=4, k=32, dtype="int8"),
             CandidateSpec.of("stationary", cols=2, k=32, dtype="int8"),
             CandidateSpec.of("dot", lanes=4, dtype="int8")]
    # 30 DSPs: the CPU (4) + 4 columns (32) do not fit, the CPU + 2 columns (16) + the dot unit (4) do
    part = FpgaPart("a 30-DSP part", lut=10**6, ff=10**6, dsp=30, bram=100)
    rep = search_isa(wl, budget_s=1200, records=tmp_path / "fit.jsonl", trials_per_kernel=4, candidates=specs,
                     verify_n=VERIFY_N, audit=0, n_parallel=2, reference=False, dataflow=False, part=part)
    combos = {c.key: c for c in rep.candidates if c.source == "combination"}
    assert len(combos) == 2, (list(combos), rep.notes)
    best, small = sorted(combos.values(), key=lambda c: c.key.endswith(")"))
    assert over_capacity(best.area, part, rep.cpu_area) and best.key.startswith("combination: ")
    assert small.key.endswith("(fits a 30-DSP part)") and small.status == Status.RANKED, (small.key, small.reason)
    assert small.verify is not None and not over_capacity(small.area, part, rep.cpu_area)
    assert small.cycles >= best.cycles
    table = format_table(rep)
    assert "a 30-DSP part" in table and "no: DSP" in table


# --- the CLI, killed and resumed ------------------------------------------------------------------

def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cli(records, out, *extra):
    return [sys.executable, "-m", "isaforge", "search-isa", "matmul_i8_16", "--budget", "20m", "--records",
            str(records), "-o", str(out), "--trials", "4", "--families", "dot", "--audit", "0", "--parallel", "2",
            *extra]


def _keys(path):
    recs, _ = load_records(path, warn=False)
    return [(r.task, r.config_index) for r in recs]


def test_cli_killed_search_resumes_without_remeasuring(tmp_path):
    records = tmp_path / "isa.jsonl"
    p = subprocess.Popen(_cli(records, tmp_path / "a"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                         cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        # killed once the baseline is on disk and the first unit's measurements have begun
        while time.monotonic() < deadline and p.poll() is None:
            if records.exists() and sum(',""]' not in k for k, _ in _keys(records)) >= 1:
                break
            time.sleep(0.2)
        assert p.poll() is None, p.communicate()[1][-2000:]
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    before = _keys(records)
    assert before and len(before) == len(set(before))
    out = tmp_path / "b"
    q = subprocess.run(_cli(records, out, "--export", "1"), capture_output=True, text=True, env=_env(), cwd=ROOT,
                       timeout=900)
    assert q.returncode == 0, q.stderr[-3000:]
    after = _keys(records)
    assert after[:len(before)] == before and len(after) == len(set(after))  # nothing measured twice
    d = json.loads((out / "search.json").read_text())
    assert d["n_measured"] == len(after) - len(before) and d["n_resumed"] >= len(before)
    assert "instruction(s)" in q.stdout and "rv32im" in q.stdout
    assert (out / "front.png").exists() and (out / "export" / "cfu.v").exists()
    assert (out / "export" / "kernel.c").read_text().count(".insn") + \
        (out / "export" / "kernel.c").read_text().count("cfu") > 0
    assert "[" in q.stderr  # the progress bar


# --- verification and area figures resumed from the checks file ----------------------------------

def _figures(rep, timings: bool = True) -> dict:
    """What a report says of each unit's checks and measurements (with or without the verify timings)."""
    out = {"cpu": rep.cpu_area, "baseline": rep.baseline_cycles}
    for c in [*rep.candidates, *([rep.reference] if rep.reference is not None else [])]:
        verify = c.verify if timings or c.verify is None else {k: v for k, v in c.verify.items() if k != "seconds"}
        out[c.key] = (c.status, c.reason, verify, c.area, c.area_fraction, c.cycles, c.speedup)
    return out


def _refuse_checks(m, calls: list) -> None:
    """Patch (monkeypatch context ``m``) every verify and synthesis entry point to record its name in
    ``calls`` and raise: a resume that checks anything again fails."""
    import isa_ext
    import isa_ext.area
    import toolchain.yosys

    def refuse(name):
        def fn(*a, **k):
            calls.append(name)
            raise AssertionError(f"{name} called on resume")
        return fn

    for name in ("verify", "verify_set", "extension_area", "cpu_area"):
        m.setattr(isa_ext, name, refuse(name))
    m.setattr(isa_ext.area, "synthesize", refuse("synthesize"))
    m.setattr(toolchain.yosys, "synthesize", refuse("synthesize"))


def test_resumed_search_reuses_verify_and_area_figures(tmp_path, monkeypatch):
    """Run twice on the same records: the second run verifies and synthesizes nothing (the entry points
    raise) and reports the same figures; a checks line under another unit hash is not reused."""
    import isa_ext
    import isa_ext.area
    from isa_search.checks import checks_path

    specs = [CandidateSpec.of("dot", lanes=4, dtype="int8"), CandidateSpec.of("test_wrong_rtl", lanes=4)]
    records = tmp_path / "isa.jsonl"

    def search():
        return search_isa("matmul_i8_16", budget_s=1200, records=records, trials_per_kernel=4, candidates=specs,
                          verify_n=VERIFY_N, audit=0, n_parallel=1, combine=False)

    first = search()
    assert first.n_checks_resumed == 0
    lines = [json.loads(x) for x in checks_path(records).read_text().splitlines()]
    assert sorted(d["kind"] for d in lines) == ["cpu_area"] + ["unit_check"] * 3  # dot, broken dot, reference
    assert first.reference.status == Status.RANKED and first.cpu_area is not None

    calls = []
    with monkeypatch.context() as m:
        _refuse_checks(m, calls)
        second = search()
    assert not calls and second.n_checks_resumed == 3 and second.n_measured == 0
    assert _figures(second) == _figures(first)
    assert "3 units' verify and area figures resumed" in format_table(second)

    # the dot unit's line under another hash (as a changed generator would leave it), with bogus figures
    dot = next(c for c in first.candidates if c.status == Status.RANKED)
    text = []
    for d in lines:
        if d["kind"] == "unit_check" and d["units"] == dot.exts:
            d = {**d, "key": "0" * 24, "check": {**d["check"], "area": {**d["check"]["area"], "lut": 1}}}
        text.append(json.dumps(d))
    checks_path(records).write_text("\n".join(text) + "\n")
    verified = []
    real_verify = isa_ext.verify
    monkeypatch.setattr(isa_ext, "verify", lambda ext, **kw: verified.append(ext.name) or real_verify(ext, **kw))
    third = search()
    assert verified == [dot.exts[0]] and third.n_checks_resumed == 2
    assert _figures(third, timings=False) == _figures(first, timings=False)  # checked again, not the stale 1 LUT


def test_dask_search_resumes_its_checks(tmp_path, monkeypatch):
    """A search whose checks ran on a Dask LocalCluster (worker processes), resumed on the same records
    on a cluster again: nothing is verified or synthesized again, neither here nor on a worker, and the
    figures (a pass and a VerifyError) are the first run's. The resume's cluster runs its workers as
    threads of this process, so they see the patched entry points (shown at the end: a check submitted
    to it calls the patched verify)."""
    distributed = pytest.importorskip("distributed")
    import isa_search.search
    from isa_search.checks import checks_path

    specs = [CandidateSpec.of("dot", lanes=4, dtype="int8"), CandidateSpec.of("test_wrong_rtl", lanes=4)]
    records = tmp_path / "isa.jsonl"

    def search(cluster):
        return search_isa("matmul_i8_16", budget_s=1200, records=records, trials_per_kernel=2, baseline_trials=2,
                          candidates=specs, verify_n=VERIFY_N, audit=0, n_parallel=1, combine=False,
                          reference=False, scheduler=cluster.scheduler_address)

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        first = search(cluster)
    assert first.n_checks_resumed == 0 and not [n for n in first.notes if "locally" in n]
    assert [c.status for c in first.candidates] == [Status.RANKED, Status.VERIFY_FAILED]
    checks = checks_path(records).read_bytes()

    calls = []
    with monkeypatch.context() as m:
        _refuse_checks(m, calls)
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster:
            second = search(cluster)
            assert not calls and second.n_checks_resumed == 2 and second.n_measured == 0
            assert not [n for n in second.notes if "locally" in n]
            with distributed.Client(cluster) as client:  # the patch reaches this cluster's workers
                unit = [dot_product_extension("dask_probe", 4, 8, True)]
                chk = client.submit(isa_search.search.check_unit, unit, VERIFY_N, 0, pure=False).result()
            assert calls == ["verify"] and chk["error"].startswith("AssertionError: verify called on resume")
    assert checks_path(records).read_bytes() == checks  # not one line added
    assert _figures(second) == _figures(first)


def test_unit_hash_follows_the_generated_code():
    from isa_search.checks import unit_hash

    a = dot_product_extension("hash_dot", 4, 8, True, funct3=0, funct7=0)
    b = dot_product_extension("hash_dot", 4, 8, True, funct3=0, funct7=0)
    assert unit_hash([a], VERIFY_N, 0) == unit_hash([b], VERIFY_N, 0)
    b.verilog_comb = b.verilog_comb.replace(_CORRECT, "rd = op_dot ? (dp_dot ^ 32'd1) : 32'd0;")
    key = unit_hash([a], VERIFY_N, 0)
    assert len({key, unit_hash([b], VERIFY_N, 0), unit_hash([a], VERIFY_N + 1, 0), unit_hash([a], VERIFY_N, 1),
                unit_hash([a], VERIFY_N, 0, kind="set")}) == 5



def _hash_units():
    """Units of real families whose functions capture values: lanes / flags, a list of Ops, a nested
    function (stationary's widx), a DAG of dataclass nodes (fused)."""
    from isa_ext.candidates import build_candidate

    specs = [CandidateSpec.of("dot", lanes=4, dtype="int8"), CandidateSpec.of("lane_mac", lanes=8, accumulators=32),
             CandidateSpec.of("stationary", cols=2, k=32, dtype="int8"),
             CandidateSpec.of("fused", expr="a b add.int32 int32:0 max.int32", a="int32", b="int32")]
    return [[build_candidate(sp)] for sp in specs]


def test_unit_hash_follows_the_values_a_generator_captured():
    """One family's semantics of one source text built with other parameters (the dot product's lanes,
    held in its lambda's closure) give another key, as other default arguments, captured arrays and
    captured functions do; identically built units give one key, in this process and in another
    (another hash seed; no memory address takes part)."""
    import dataclasses
    import inspect

    import numpy as np

    from isa_search.checks import fn_fingerprint, unit_hash

    a = dot_product_extension("hash_dot", 4, 8, True)
    two = dot_product_extension("hash_dot", 2, 16, True)
    b = dataclasses.replace(a, semantics=two.semantics)  # a's RTL and C model, the semantics of 2 int16 lanes
    assert inspect.getsource(a.semantics["dot"]) == inspect.getsource(b.semantics["dot"])
    assert unit_hash([a], VERIFY_N, 0) != unit_hash([b], VERIFY_N, 0)
    assert unit_hash([a], VERIFY_N, 0) == unit_hash([dot_product_extension("hash_dot", 4, 8, True)], VERIFY_N, 0)

    class NoRepr:
        def __repr__(self):
            raise RuntimeError("no repr")

    def family(k, table, helper_k, kw=1, thing=None):
        def helper(x):
            return x + helper_k

        def sem(a, b, imm, st, scale=k):
            st["seen"] = thing
            return rec(a, b, imm, st, kw=kw) + helper(int(table[0])) * scale

        def rec(a, b, imm, st, *, kw=kw):  # refers to itself through its closure: a cycle
            return rec(a, b, imm, st, kw=kw - 1) if kw > 1 else a

        return sem

    def fp(*args, **kw):
        return fn_fingerprint(family(*args, **kw))

    arr = np.arange(4, dtype=np.int8)
    base = fp(2, arr, 3)
    assert base == fp(2, arr.copy(), 3) == fp(2, np.arange(4, dtype=np.int8), 3) and "<cycle " in base
    assert fp(2, arr, 3, thing=object()) == fp(2, arr, 3, thing=object())  # "<object object at 0x...>"
    assert " at 0x" not in fp(2, arr, 3, thing=object())
    assert fp(2, arr, 3, thing=NoRepr()) == fp(2, arr, 3, thing=NoRepr())  # its type stands for it
    others = [fp(3, arr, 3), fp(2, arr + 1, 3), fp(2, arr.astype(np.int16), 3), fp(2, arr, 4), fp(2, arr, 3, kw=2),
              fp(2, arr, 3, thing=[1])]
    assert len({base, *others}) == 1 + len(others)

    def with_globals(**g):  # a semantics function reading module globals: a constant and a helper
        ns = {"np": np, **g}
        exec("def sem(a, b, imm, st):\n    return helper(a) + SCALE * int(np.int8(b)) + len(TABLE)\n", ns)
        return fn_fingerprint(ns["sem"])

    def helper_of(k):
        return lambda x: x + k

    g0 = with_globals(SCALE=2, TABLE=(1, 2), helper=helper_of(1))
    assert g0 == with_globals(SCALE=2, TABLE=(1, 2), helper=helper_of(1))
    g_others = [with_globals(SCALE=3, TABLE=(1, 2), helper=helper_of(1)),
                with_globals(SCALE=2, TABLE=(1, 2, 3), helper=helper_of(1)),
                with_globals(SCALE=2, TABLE=(1, 2), helper=helper_of(2))]
    assert len({g0, *g_others}) == 1 + len(g_others)
    assert "np=<module numpy>" in g0  # a module (or a library's function) stands by its name
    ns = {}
    exec("_CACHE = {}\ndef sem(a, b, imm, st):\n    return _CACHE.setdefault(a, a + b)\n", ns)
    before = fn_fingerprint(ns["sem"])
    ns["sem"](1, 2, 0, {})  # a module's cache fills as the process runs: no part of the definition
    assert fn_fingerprint(ns["sem"]) == before

    keys = [unit_hash(u, VERIFY_N, 0) for u in _hash_units()]
    assert keys == [unit_hash(u, VERIFY_N, 0) for u in _hash_units()] and len(set(keys)) == len(keys)
    code = ("import json, tests.test_isa_search as t; from isa_search.checks import unit_hash; "
            f"print(json.dumps([unit_hash(u, {VERIFY_N}, 0) for u in t._hash_units()]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == keys

# --- workloads and the CLI's arguments (no measurement) ---------------------------------------------

def test_shipped_workloads_and_a_workload_file(tmp_path):
    from isa_search.workloads import WORKLOADS, WorkloadError

    for name in WORKLOADS:
        wl = load_workload(name)
        assert wl.kernels and all(k.count >= 1 for k in wl.kernels)
    kws = load_workload("kws")
    assert kws.has_requantize and {k.count for k in kws.kernels} >= {4, 9}
    assert load_workload("matmul_i8_64").macs() == 64 ** 3
    f = tmp_path / "wl.py"
    f.write_text("WORKLOAD = [('mm', 'matmul_i8', (8, 8, 8), 3)]\n")
    wl = load_workload(str(f))
    assert wl.kernels[0].count == 3 and wl.macs() == 3 * 8 ** 3
    f.write_text("WORKLOAD = [('mm', 'no_such_template', (8, 8, 8))]\n")
    with pytest.raises(WorkloadError, match="no template named 'no_such_template'"):
        load_workload(str(f))
    with pytest.raises(WorkloadError, match="unknown workload 'nope'"):
        load_workload("nope")


def test_budget_parsing():
    import argparse

    from isaforge.cmd_search import parse_budget

    assert parse_budget("30m") == 1800 and parse_budget("90") == 90 and parse_budget("1.5h") == 5400
    with pytest.raises(argparse.ArgumentTypeError):
        parse_budget("soon")


def test_front_check_detects_dominated_points():
    assert non_dominated([(100, 50), (80, 70), (60, 400)])
    assert not non_dominated([(100, 50), (120, 60)])  # the second is slower and larger
    assert not non_dominated([(100, 50), (100, 50 + 1)])


def test_check_store_reuses_verify_failures_but_not_tool_failures(tmp_path):
    """A stored VerifyError (the RTL disagrees with the model) is a property of the unit and is reused;
    a stored tool failure (a Yosys or Verilator run that died) is checked again on resume."""
    from isa_search.checks import KIND_UNIT, CheckStore

    path = tmp_path / "isa.checks.jsonl"
    store = CheckStore(path)
    store.put(KIND_UNIT, "a", {"verify": None, "area": None, "error": "VerifyError: op dot lane 2", "seconds": {}})
    store.put(KIND_UNIT, "b", {"verify": {"n": 1}, "area": None, "error": "SynthesisError: yosys killed",
                               "seconds": {}})
    store.put(KIND_UNIT, "c", {"verify": {"n": 1}, "area": {"lut": 40}, "error": "", "seconds": {}})
    again = CheckStore(path)
    assert again.get(KIND_UNIT, "a")["error"].startswith("VerifyError")
    assert again.get(KIND_UNIT, "b") is None
    assert again.get(KIND_UNIT, "c")["area"] == {"lut": 40}
    assert again.get(KIND_UNIT, "d") is None
