// The split-build SoC (see Visaforge_soc_top.h): the CPU model and the CFU model, connected every cycle.
//
// Evaluation order. In the monolithic model both sides' registers take their pre-edge inputs at the
// rising edge, and the combinational logic then settles across the CFU port. Here:
// * eval() (the reference, and the reset sequence): before an edge, both models are settled with the new
//   inputs at the old clock level (iterating until the port is stable, so a combinational path either way,
//   e.g. a zero-latency unit's rsp_valid from cmd_valid, is seen), then both take the edge with those pins,
//   then they are settled again.
// * eval_fast() (the harness's direct path): the CPU takes the edge, the CFU takes it with the pins it was
//   last given (the pre-edge ones), then the CPU's new CFU outputs go to the CFU (evaluated again if they
//   changed) and the CFU's outputs go to the CPU's input ports, where the CPU's next edge evaluation reads
//   them (Verilator settles logic driven by inputs before the edge's registers). This is exact because in
//   VexRiscv_FullCfu everything the CPU drives onto the CFU port (cmd_valid from the execute stage's
//   registers, the function id and operands from decode_to_execute registers, rsp_ready = !rsp_rValid)
//   and onto the buses is a register: it depends on neither the CFU's outputs nor the bus ACK of the same
//   cycle, so no CPU evaluation between edges is needed. tests/test_split_soc.py checks both paths against
//   the monolithic model cycle for cycle.
#include "Visaforge_cpu_top.h"
#include "Visaforge_cpu_top___024root.h"
#include "Visaforge_soc_top.h"
#include "Visaforge_soc_top___024root.h"

#include <cstdio>
#include <cstdlib>

void Visaforge_cpu_top___024root___eval(Visaforge_cpu_top___024root *vlSelf) __attribute__((weak));

namespace {

constexpr int kSettleLimit = 64;  // port iterations before a combinational loop is reported

template <typename R>
auto clear_cpu_clock(R *root, int) -> decltype(root->__Vtrigprevexpr___TOP__clk__0 = 0, true) {
    root->__Vtrigprevexpr___TOP__clk__0 = 0;
    return true;
}
template <typename R>
bool clear_cpu_clock(R *, long) {
    return false;
}

[[noreturn]] void port_fail(const char *msg) {
    std::printf("ISAFORGE_SIM reason=error msg=%s\n", msg);
    std::fflush(stdout);
    std::exit(2);
}

}  // namespace

Visaforge_soc_top::Visaforge_soc_top(VerilatedContext *ctx)
    : cpu_(new Visaforge_cpu_top(ctx)),
      cfu_(isaforge_cfu_new(ctx)),
      rootp(new Visaforge_soc_top___024root),
      clk(cpu_->clk), reset(cpu_->reset), reset_vector(cpu_->reset_vector),
      ibus_cyc(cpu_->ibus_cyc), ibus_stb(cpu_->ibus_stb), ibus_we(cpu_->ibus_we),
      ibus_adr(cpu_->ibus_adr), ibus_dat_w(cpu_->ibus_dat_w),
      ibus_sel(cpu_->ibus_sel), ibus_cti(cpu_->ibus_cti), ibus_ack(cpu_->ibus_ack),
      ibus_dat_r(cpu_->ibus_dat_r),
      dbus_cyc(cpu_->dbus_cyc), dbus_stb(cpu_->dbus_stb), dbus_we(cpu_->dbus_we),
      dbus_adr(cpu_->dbus_adr), dbus_dat_w(cpu_->dbus_dat_w),
      dbus_sel(cpu_->dbus_sel), dbus_cti(cpu_->dbus_cti), dbus_ack(cpu_->dbus_ack),
      dbus_dat_r(cpu_->dbus_dat_r),
      pc_execute(cpu_->pc_execute), pc_memory(cpu_->pc_memory), pc_writeback(cpu_->pc_writeback),
      mem_wb_valid(cpu_->mem_wb_valid), mem_wb_addr(cpu_->mem_wb_addr) {
    rootp->soc = this;
    rootp->__Vtrigprevexpr___TOP__clk__0.soc = this;
    give_rsp();
}

Visaforge_soc_top::~Visaforge_soc_top() {
    isaforge_cfu_delete(cfu_);
    delete rootp;
    delete cpu_;
}

bool Visaforge_soc_top::take_cmd() {
    IsaforgeCfuPins &p = pins_;
    const bool changed = p.cmd_valid != cpu_->cfu_cmd_valid || p.rsp_ready != cpu_->cfu_rsp_ready ||
                         p.function_id != cpu_->cfu_cmd_function_id || p.inputs_0 != cpu_->cfu_cmd_in0 ||
                         p.inputs_1 != cpu_->cfu_cmd_in1 || p.reset != cpu_->reset;
    p.cmd_valid = cpu_->cfu_cmd_valid;
    p.rsp_ready = cpu_->cfu_rsp_ready;
    p.function_id = cpu_->cfu_cmd_function_id;
    p.inputs_0 = cpu_->cfu_cmd_in0;
    p.inputs_1 = cpu_->cfu_cmd_in1;
    p.reset = cpu_->reset;
    return changed;
}

bool Visaforge_soc_top::give_rsp() {
    const IsaforgeCfuPins &p = pins_;
    const bool changed = cpu_->cfu_cmd_ready != p.cmd_ready || cpu_->cfu_rsp_valid != p.rsp_valid ||
                         cpu_->cfu_rsp_out0 != p.outputs_0;
    cpu_->cfu_cmd_ready = p.cmd_ready;
    cpu_->cfu_rsp_valid = p.rsp_valid;
    cpu_->cfu_rsp_out0 = p.outputs_0;
    return changed;
}

void Visaforge_soc_top::settle() {
    for (int i = 0;; i++) {
        if (i > kSettleLimit) port_fail("cfu_port_combinational_loop");
        if (take_cmd()) isaforge_cfu_eval_plain(cfu_, &pins_);
        if (!give_rsp()) return;
        cpu_->eval();
    }
}

void Visaforge_soc_top::eval() {
    const uint8_t level = cpu_->clk;
    if (level != last_clk_) {  // an edge: first settle the new inputs at the old level
        cpu_->clk = last_clk_;
        cpu_->eval();
        settle();
        cpu_->clk = level;
    }
    cpu_->eval();
    pins_.clk = level;
    isaforge_cfu_eval_plain(cfu_, &pins_);
    settle();
    last_clk_ = level;
}

void Visaforge_soc_top::eval_fast() {
    if (Visaforge_cpu_top___024root___eval) Visaforge_cpu_top___024root___eval(cpu_->rootp);
    else cpu_->eval();
    const uint8_t level = cpu_->clk;
    pins_.clk = level;
    isaforge_cfu_eval(cfu_, &pins_);
    if (take_cmd()) isaforge_cfu_eval(cfu_, &pins_);
    give_rsp();
    last_clk_ = level;
}

void Visaforge_soc_top::clock_low() {
    cpu_->clk = 0;
    if (!clear_cpu_clock(cpu_->rootp, 0)) cpu_->eval();
    pins_.clk = 0;
    isaforge_cfu_fall(cfu_, &pins_);
    give_rsp();
    last_clk_ = 0;
}

void Visaforge_soc_top::final() {
    cpu_->final();
    isaforge_cfu_final(cfu_);
}

void Visaforge_soc_top___024root___eval(Visaforge_soc_top___024root *root) { root->soc->eval_fast(); }
