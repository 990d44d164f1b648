"""The demo's instruction search (isaforge.demo_search, part of ``make demo``): it runs on matmul_i8_64,
prints the ranked table and writes the Pareto-front PNG and the JSON of every candidate."""

from __future__ import annotations

import json

from isaforge import demo_search


def test_demo_search_prints_the_ranked_table_and_writes_the_front(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo_search, "OUT", tmp_path / "demo")
    assert demo_search.main(trials=2) == 0
    out = capsys.readouterr().out
    assert "workload matmul_i8_64: 1 kernels, 262,144 MACs" in out and "rv32im" in out and "instruction(s)" in out
    d = json.loads((tmp_path / "demo" / "isa_search" / "search.json").read_text())
    assert len(d["candidates"]) == len(demo_search.demo_candidates())
    assert d["ranking"] and d["baseline_cycles"] > 0
    # the matmul cannot use the depthwise MAC nor the fused elementwise op: reported, not ranked
    status = {c["key"]: c["status"] for c in d["candidates"]}
    assert status["lane_mac(accumulators=16,lanes=4)"] == "no_gain"
    png = tmp_path / "demo" / "isa_search" / "front.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
