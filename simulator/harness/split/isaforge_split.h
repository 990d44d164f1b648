// The split-build SoC's boundary between the CPU model (verilated once) and the CFU model (verilated per
// unit, prefix Visaforge_cfu): the CFU port's pins, and the functions the per-unit glue (cfu_glue.cpp)
// defines. The CPU side (soc_split.cpp) is compiled without the CFU model's headers, so the CPU objects
// are reused for every unit.
#pragma once
#include <cstdint>

class VerilatedContext;

struct IsaforgeCfuPins {
    // into the CFU
    uint8_t clk = 0, reset = 0, cmd_valid = 0, rsp_ready = 0;
    uint32_t function_id = 0, inputs_0 = 0, inputs_1 = 0;
    // out of the CFU
    uint8_t cmd_ready = 0, rsp_valid = 0;
    uint32_t outputs_0 = 0;
};

// A new CFU model on this context.
void *isaforge_cfu_new(VerilatedContext *ctx);
// Copy the inputs in, evaluate (an edge when clk changed, else the combinational logic), copy the outputs out.
void isaforge_cfu_eval(void *model, IsaforgeCfuPins *pins);
// The same through Verilator's eval() (which also initialises the model on its first call: the reset
// sequence and the reference evaluation use it).
void isaforge_cfu_eval_plain(void *model, IsaforgeCfuPins *pins);
// The clock goes low (pins->clk = 0): a unit with rising-edge logic only just forgets the clock's level
// (nothing happens on its falling edge); any other unit is evaluated.
void isaforge_cfu_fall(void *model, IsaforgeCfuPins *pins);
void isaforge_cfu_final(void *model);
void isaforge_cfu_delete(void *model);
