// The split-build SoC's stand-in for the monolithic model's root (see Visaforge_soc_top.h): soc_main.cpp
// evaluates it directly and clears its clock memory on the rising-edge-only path; both go to the two models.
#pragma once
#include "Visaforge_soc_top.h"

struct IsaforgeClockMemory {
    Visaforge_soc_top *soc = nullptr;
    IsaforgeClockMemory &operator=(int) {
        soc->clock_low();
        return *this;
    }
};
// Visaforge_soc_top___024root___eval (declared by soc_main.cpp) is defined in soc_split.cpp.

class Visaforge_soc_top___024root {
  public:
    Visaforge_soc_top *soc = nullptr;
    IsaforgeClockMemory __Vtrigprevexpr___TOP__clk__0;
};
// Visaforge_soc_top___024root___eval (declared by soc_main.cpp) is defined in soc_split.cpp.

