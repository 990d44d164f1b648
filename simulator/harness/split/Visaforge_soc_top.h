// The split-build SoC seen by the SoC harness (soc_main.cpp, unchanged): the same class name and ports as
// the monolithic model Visaforge_soc_top, made of the CPU model (Visaforge_cpu_top, its ports referenced
// directly, so the harness reads and writes them without copies) and a CFU model behind isaforge_split.h.
#pragma once
#include "Visaforge_cpu_top.h"
#include "isaforge_split.h"
#include "verilated.h"

class Visaforge_soc_top___024root;

class Visaforge_soc_top {
    Visaforge_cpu_top *cpu_;  // first: the port references below are bound to its ports
    void *cfu_;
    IsaforgeCfuPins pins_;
    uint8_t last_clk_ = 0;

  public:
    Visaforge_soc_top___024root *rootp;
    CData &clk, &reset;
    IData &reset_vector;
    CData &ibus_cyc, &ibus_stb, &ibus_we;
    IData &ibus_adr, &ibus_dat_w;
    CData &ibus_sel, &ibus_cti, &ibus_ack;
    IData &ibus_dat_r;
    CData &dbus_cyc, &dbus_stb, &dbus_we;
    IData &dbus_adr, &dbus_dat_w;
    CData &dbus_sel, &dbus_cti, &dbus_ack;
    IData &dbus_dat_r;
    IData &pc_execute, &pc_memory, &pc_writeback;
    CData &mem_wb_valid;
    IData &mem_wb_addr;

    explicit Visaforge_soc_top(VerilatedContext *ctx);
    ~Visaforge_soc_top();
    Visaforge_soc_top(const Visaforge_soc_top &) = delete;
    Visaforge_soc_top &operator=(const Visaforge_soc_top &) = delete;

    // The reference evaluation (and the reset sequence's, which initialises both models): Verilator's
    // eval() on both models, iterated until the CFU port is stable,
    // before the edge (with the new bus inputs) and after it. Correct for any combinational paths across
    // the port (none may form a loop).
    void eval();
    // The fast evaluation of one clock level (see soc_split.cpp for why it is exact for VexRiscv_FullCfu).
    void eval_fast();
    // The clock went low without an evaluation (the harness's rising-edge-only path).
    void clock_low();
    void final();

  private:
    bool take_cmd();  // CPU -> CFU pins; whether any changed
    bool give_rsp();  // CFU pins -> CPU; whether any changed
    void settle();    // iterate both models' combinational logic until the port is stable
};
