"""The instruction search's proposals (issue 12's tests):

* on ``matmul_i8_64`` a dot-product-like unit is among the top candidates and at least one
  operand-stationary unit is ranked;
* on an NHWC depthwise 3x3 convolution (where a stateless dot4 cannot beat scalar code) it proposes a
  lane-parallel unit at least 2x faster than scalar;
* on a max pool (no multiply-accumulate) it proposes no MAC unit.

Everything is measured: real Verilator verification, real Yosys, XGB tuning on the simulated VexRiscv.
"""

from __future__ import annotations

from isa_ext.candidates import CandidateSpec
from isa_search import Status, search_isa
from isa_search.workloads import Kernel, Workload

MAC_FAMILIES = {"dot", "mac_bank", "stationary", "lane_mac"}
TRIALS = 8


def _family(c) -> str:
    return c.spec["family"]


def test_matmul_search_proposes_a_dot_unit_and_a_stationary_unit(tmp_path):
    specs = [CandidateSpec.of("dot", lanes=4, dtype="int8"), CandidateSpec.of("stationary", cols=2, k=32, dtype="int8"),
             CandidateSpec.of("stationary", cols=4, k=32, dtype="int8"), CandidateSpec.of("fused", **_relu_add())]
    rep = search_isa("matmul_i8_64", budget_s=1200, records=tmp_path / "mm.jsonl", candidates=specs,
                     trials_per_kernel=TRIALS, verify_n=500, audit=0, reference=False, n_parallel=2)
    ranked = rep.ranked()
    fams = [_family(c) for c in ranked]
    assert "dot" in fams[:3], [(c.key, c.status, c.reason, c.estimate, c.cycles) for c in rep.candidates]
    assert "stationary" in fams, [(c.key, c.status, c.reason) for c in rep.candidates]
    # and the dot product is on the Pareto front of cycles vs LUTs (the cheapest unit that pays)
    assert any(c.pareto and _family(c) == "dot" for c in ranked), [(c.key, c.cycles, c.lut) for c in ranked]
    for c in ranked:
        assert c.verify and c.verify["n_ops"] >= 500 and c.area["lut"] > 0
        assert c.speedup > 1
    # the fused elementwise op has nothing to do in a matmul
    fused = [c for c in rep.candidates if _family(c) == "fused"]
    assert fused and all(c.status != Status.RANKED for c in fused)


def _relu_add() -> dict:
    from isa_ext.candidates import enumerate_family

    return enumerate_family("fused")[0].p


def test_depthwise_nhwc_search_proposes_a_lane_parallel_unit_2x_faster(tmp_path):
    wl = Workload("dw", (Kernel("depthwise 3x3 NHWC 1x8x8x32", "depthwise_conv2d_nhwc_i8", (1, 8, 8, 32, 3, 3, 1, 1)),),
                  "one NHWC depthwise convolution")
    specs = [CandidateSpec.of("dot", lanes=4, dtype="int8"), CandidateSpec.of("lane_mac", lanes=4, accumulators=16)]
    rep = search_isa(wl, budget_s=1200, records=tmp_path / "dw.jsonl", candidates=specs, trials_per_kernel=TRIALS,
                     verify_n=500, audit=0, reference=False, n_parallel=2)
    ranked = rep.ranked()
    assert ranked, [(c.key, c.status, c.reason) for c in rep.candidates]
    best = ranked[0]
    assert _family(best) == "lane_mac"
    assert best.speedup >= 2.0, best.speedup
    assert rep.baseline_cycles / best.cycles >= 2.0


def test_max_pool_search_proposes_no_mac_unit(tmp_path):
    wl = Workload("mp", (Kernel("max pool 2x2 NHWC 1x16x16x16", "max_pool2d_nhwc_i8", (1, 16, 16, 16, 2, 2, 0)),),
                  "one NHWC int8 max pool")
    specs = [CandidateSpec.of("dot", lanes=4, dtype="int8"), CandidateSpec.of("mac_bank", n_acc=16, lanes=4,
                                                                               dtype="int8"),
             CandidateSpec.of("simd_max", lanes=4, dtype="int8")]
    rep = search_isa(wl, budget_s=1200, records=tmp_path / "mp.jsonl", candidates=specs, trials_per_kernel=TRIALS,
                     verify_n=500, audit=0, reference=False, n_parallel=2)
    assert rep.workload.macs() == 0
    ranked = rep.ranked()
    assert not [c for c in ranked if _family(c) in MAC_FAMILIES], [c.key for c in ranked]
    for c in rep.candidates:
        if _family(c) in MAC_FAMILIES:
            assert c.status == Status.NO_GAIN, (c.key, c.status)
    assert [_family(c) for c in ranked] == ["simd_max"]


def test_a_combination_of_the_best_unit_per_kernel_is_verified_and_measured(tmp_path):
    """A workload with a matmul and an NHWC depthwise: an operand-stationary unit serves the one,
    lane_mac the other (their encodings do not collide); the combined CFU is verified together
    (routing, interleaved state), synthesized and measured, and beats both single units."""
    wl = Workload("mm+dw", (Kernel("matmul 16x16x16", "matmul_i8", (16, 16, 16)),
                            Kernel("depthwise 3x3 NHWC 1x8x8x32", "depthwise_conv2d_nhwc_i8",
                                   (1, 8, 8, 32, 3, 3, 1, 1))),
                  "a matmul and a depthwise convolution")
    specs = [CandidateSpec.of("stationary", cols=2, k=32, dtype="int8"),
             CandidateSpec.of("lane_mac", lanes=4, accumulators=16), CandidateSpec.of("dot", lanes=4, dtype="int8")]
    rep = search_isa(wl, budget_s=1200, records=tmp_path / "c.jsonl", candidates=specs, trials_per_kernel=TRIALS,
                     verify_n=500, audit=0, reference=False, n_parallel=2)
    combos = [c for c in rep.candidates if c.source == "combination"]
    assert len(combos) == 1, [c.key for c in rep.candidates]
    combo = combos[0]
    assert combo.status == Status.RANKED, (combo.status, combo.reason)
    assert combo.verify and combo.verify["n_ops"] >= 500 and combo.area["lut"] > 0
    singles = {c.spec["family"]: c for c in rep.candidates if c.source != "combination"}
    st, lm = singles["stationary"], singles["lane_mac"]
    assert combo.cycles < min(st.cycles, lm.cycles)
    assert combo.area["lut"] >= max(st.area["lut"], lm.area["lut"])
    assert rep.ranked()[0] is combo
    per = {k.label: k for k in combo.kernels}
    assert per["matmul 16x16x16"].units == [st.exts[0]]
    assert per["depthwise 3x3 NHWC 1x8x8x32"].units == [lm.exts[0]]
