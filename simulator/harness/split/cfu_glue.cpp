// The per-unit side of the split-build SoC (see isaforge_split.h): the CFU model (prefix Visaforge_cfu)
// behind the pins the CPU side exchanges with it. ISAFORGE_CFU_POSEDGE_ONLY (defined by the builder
// when the unit's text has rising-edge logic only) lets the falling clock skip the evaluation;
// ISAFORGE_PLAIN_EVAL uses Verilator's eval() only.
#include "Visaforge_cfu.h"
#include "Visaforge_cfu___024root.h"
#include "isaforge_split.h"
#include "verilated.h"

void Visaforge_cfu___024root___eval(Visaforge_cfu___024root *vlSelf) __attribute__((weak));

namespace {

template <typename R>
auto clear_cfu_clock(R *root, int) -> decltype(root->__Vtrigprevexpr___TOP__clk__0 = 0, true) {
    root->__Vtrigprevexpr___TOP__clk__0 = 0;
    return true;
}
template <typename R>
bool clear_cfu_clock(R *, long) {
    return false;
}

inline void run(Visaforge_cfu *m) {
#ifdef ISAFORGE_PLAIN_EVAL
    m->eval();
#else
    if (Visaforge_cfu___024root___eval) Visaforge_cfu___024root___eval(m->rootp);
    else m->eval();
#endif
}

inline void put(Visaforge_cfu *m, const IsaforgeCfuPins *p) {
    m->clk = p->clk;
    m->reset = p->reset;
    m->cmd_valid = p->cmd_valid;
    m->cmd_payload_function_id = p->function_id;
    m->cmd_payload_inputs_0 = p->inputs_0;
    m->cmd_payload_inputs_1 = p->inputs_1;
    m->rsp_ready = p->rsp_ready;
}

inline void get(const Visaforge_cfu *m, IsaforgeCfuPins *p) {
    p->cmd_ready = m->cmd_ready;
    p->rsp_valid = m->rsp_valid;
    p->outputs_0 = m->rsp_payload_outputs_0;
}

}  // namespace

void *isaforge_cfu_new(VerilatedContext *ctx) { return new Visaforge_cfu(ctx); }

void isaforge_cfu_eval(void *model, IsaforgeCfuPins *pins) {
    auto *m = static_cast<Visaforge_cfu *>(model);
    put(m, pins);
    run(m);
    get(m, pins);
}

void isaforge_cfu_eval_plain(void *model, IsaforgeCfuPins *pins) {
    auto *m = static_cast<Visaforge_cfu *>(model);
    put(m, pins);
    m->eval();
    get(m, pins);
}

void isaforge_cfu_fall(void *model, IsaforgeCfuPins *pins) {
    auto *m = static_cast<Visaforge_cfu *>(model);
#if defined(ISAFORGE_CFU_POSEDGE_ONLY) && !defined(ISAFORGE_PLAIN_EVAL)
    m->clk = 0;
    if (clear_cfu_clock(m->rootp, 0)) return;
#endif
    put(m, pins);
    run(m);
    get(m, pins);
}

void isaforge_cfu_final(void *model) { static_cast<Visaforge_cfu *>(model)->final(); }

void isaforge_cfu_delete(void *model) { delete static_cast<Visaforge_cfu *>(model); }
