"""The parametric candidate families (registered into :mod:`isa_ext.candidates` on first use).

Each family is a grid of parameters and one builder that turns a point of the grid into a full
extension through the generators of :mod:`isa_ext.library` (or its own generator).

* ``dot``       stateless packed dot product: ``lanes`` lanes of ``dtype`` per register.
* ``mac_bank``  a bank of ``n_acc`` int32 accumulators, each op a 4-lane int8 dot accumulated in place.
* ``requant``   TFLite's int32 -> int8 output stage with its parameters in state (funct3 5); ``pack=4``
                also requantizes two values per op and packs four int8 results into one word.
"""

from __future__ import annotations

from isa_ext.candidates import CandidateSpec, Family, register_family
from isa_ext.errors import ExtensionError
from isa_ext.library import dot_product_extension, mac_bank_extension, requant_extension

_DTYPES = {"int8": (8, True), "uint8": (8, False), "int16": (16, True)}


def _bits(spec: CandidateSpec) -> tuple[int, bool]:
    dtype = spec.p.get("dtype", "int8")
    if dtype not in _DTYPES:
        raise ExtensionError(f"dtype {dtype!r} not in {sorted(_DTYPES)}")
    return _DTYPES[dtype]


# --- dot ---------------------------------------------------------------------------------------------
def _dot_grid() -> list[CandidateSpec]:
    return [CandidateSpec.of("dot", lanes=n, dtype=d) for d, n in (("int8", 4), ("int8", 2), ("uint8", 4),
                                                                    ("int16", 2))]


def _dot_build(spec: CandidateSpec):
    bits, signed = _bits(spec)
    return dot_product_extension(spec.ext_name, int(spec.p["lanes"]), bits, signed, funct3=0, funct7=0)


def _dot_describe(spec: CandidateSpec) -> str:
    return f"rd = sum of {spec.p['lanes']} {spec.p['dtype']} lane products of rs1, rs2"


# --- mac bank ----------------------------------------------------------------------------------------
def _mac_grid() -> list[CandidateSpec]:
    return [CandidateSpec.of("mac_bank", n_acc=n, lanes=4, dtype="int8") for n in (4, 8, 16, 32)]


def _mac_build(spec: CandidateSpec):
    bits, signed = _bits(spec)
    return mac_bank_extension(spec.ext_name, int(spec.p["n_acc"]), int(spec.p["lanes"]), bits, signed)


def _mac_describe(spec: CandidateSpec) -> str:
    return (f"acc[k] += dot{spec.p['lanes']}({spec.p['dtype']} rs1, rs2) in a bank of {spec.p['n_acc']} int32 "
            "accumulators (k = funct7)")


# --- requant -----------------------------------------------------------------------------------------
def _rq_grid() -> list[CandidateSpec]:
    return [CandidateSpec.of("requant", latency=1), CandidateSpec.of("requant", latency=1, pack=4)]


def _rq_build(spec: CandidateSpec):
    return requant_extension(spec.ext_name, 5, int(spec.p.get("latency", 1)), int(spec.p.get("pack", 1)))


def _rq_describe(spec: CandidateSpec) -> str:
    one = "rd = clamp(zp + rounding_shift(srdhm(rs1, mult), shift)) as int8 (TFLite requantize)"
    if int(spec.p.get("pack", 1)) == 4:
        return one + "; two per op on rs1, rs2, four packed into one word (two datapaths)"
    return one


register_family(Family("dot", "stateless packed dot product", _dot_grid, _dot_build, _dot_describe))
register_family(Family("mac_bank", "int32 accumulator bank fed by 4-lane dot products", _mac_grid, _mac_build,
                       _mac_describe))
register_family(Family("requant", "fused TFLite requantize", _rq_grid, _rq_build, _rq_describe))
import isa_ext.fam_fused  # noqa: E402,F401
import isa_ext.fam_simd  # noqa: E402,F401
import isa_ext.fam_stationary  # noqa: E402,F401
