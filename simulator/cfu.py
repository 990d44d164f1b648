"""The CFU RTL generator and co-simulation library, re-exported from :mod:`isa_ext.cfu` (RTL
generation belongs to isa_ext; the SoC only attaches the combined ``Cfu`` module to the CPU)."""

from isa_ext.cfu import CFU_PORTS, CYCLE_GUARD, CfuCosim, build_cfu_cosim, cfu_module_header, combine_cfu
from isa_ext.errors import CfuError

__all__ = ["CFU_PORTS", "CYCLE_GUARD", "CfuCosim", "CfuError", "build_cfu_cosim", "cfu_module_header", "combine_cfu"]
