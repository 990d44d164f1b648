// isaforge split-build CPU top for Verilator: the VexRiscv_FullCfu CPU with its CFU port brought out as
// top-level ports (the split SoC harness connects a separately verilated Cfu model to them every cycle)
// and both Wishbone buses brought out to the C++ harness (which models RAM and MMIO). The CPU wiring is
// the same as isaforge_soc_top's, so the two builds simulate the same cycles.
module isaforge_cpu_top (
    input             clk,
    input             reset,
    input      [31:0] reset_vector,

    output            ibus_cyc,
    output            ibus_stb,
    output            ibus_we,
    output     [29:0] ibus_adr,
    output     [31:0] ibus_dat_w,
    output     [3:0]  ibus_sel,
    output     [2:0]  ibus_cti,
    input             ibus_ack,
    input      [31:0] ibus_dat_r,

    output            dbus_cyc,
    output            dbus_stb,
    output            dbus_we,
    output     [29:0] dbus_adr,
    output     [31:0] dbus_dat_w,
    output     [3:0]  dbus_sel,
    output     [2:0]  dbus_cti,
    input             dbus_ack,
    input      [31:0] dbus_dat_r,

    // program counters of the later pipeline stages, for error reports
    output     [31:0] pc_execute,
    output     [31:0] pc_memory,
    output     [31:0] pc_writeback,
    // the memory instruction in the writeBack stage (valid, effective address)
    output            mem_wb_valid,
    output     [31:0] mem_wb_addr,

    // the CFU port (CFU Playground names, seen from the CPU)
    output            cfu_cmd_valid,
    input             cfu_cmd_ready,
    output     [9:0]  cfu_cmd_function_id,
    output     [31:0] cfu_cmd_in0,
    output     [31:0] cfu_cmd_in1,
    input             cfu_rsp_valid,
    output            cfu_rsp_ready,
    input      [31:0] cfu_rsp_out0
);
    wire [1:0]  ibus_bte_unused;
    wire [1:0]  dbus_bte_unused;

    VexRiscv cpu (
        .clk                                   (clk),
        .reset                                 (reset),
        .externalResetVector                   (reset_vector),
        .timerInterrupt                        (1'b0),
        .softwareInterrupt                     (1'b0),
        .externalInterruptArray                (32'd0),
        .CfuPlugin_bus_cmd_valid               (cfu_cmd_valid),
        .CfuPlugin_bus_cmd_ready               (cfu_cmd_ready),
        .CfuPlugin_bus_cmd_payload_function_id (cfu_cmd_function_id),
        .CfuPlugin_bus_cmd_payload_inputs_0    (cfu_cmd_in0),
        .CfuPlugin_bus_cmd_payload_inputs_1    (cfu_cmd_in1),
        .CfuPlugin_bus_rsp_valid               (cfu_rsp_valid),
        .CfuPlugin_bus_rsp_ready               (cfu_rsp_ready),
        .CfuPlugin_bus_rsp_payload_outputs_0   (cfu_rsp_out0),
        .iBusWishbone_CYC                      (ibus_cyc),
        .iBusWishbone_STB                      (ibus_stb),
        .iBusWishbone_ACK                      (ibus_ack),
        .iBusWishbone_WE                       (ibus_we),
        .iBusWishbone_ADR                      (ibus_adr),
        .iBusWishbone_DAT_MISO                 (ibus_dat_r),
        .iBusWishbone_DAT_MOSI                 (ibus_dat_w),
        .iBusWishbone_SEL                      (ibus_sel),
        .iBusWishbone_ERR                      (1'b0),
        .iBusWishbone_CTI                      (ibus_cti),
        .iBusWishbone_BTE                      (ibus_bte_unused),
        .dBusWishbone_CYC                      (dbus_cyc),
        .dBusWishbone_STB                      (dbus_stb),
        .dBusWishbone_ACK                      (dbus_ack),
        .dBusWishbone_WE                       (dbus_we),
        .dBusWishbone_ADR                      (dbus_adr),
        .dBusWishbone_DAT_MISO                 (dbus_dat_r),
        .dBusWishbone_DAT_MOSI                 (dbus_dat_w),
        .dBusWishbone_SEL                      (dbus_sel),
        .dBusWishbone_ERR                      (1'b0),
        .dBusWishbone_CTI                      (dbus_cti),
        .dBusWishbone_BTE                      (dbus_bte_unused)
    );


    assign pc_execute   = cpu.execute_PC;
    assign pc_memory    = cpu.memory_PC;
    assign pc_writeback = cpu.writeBack_PC;
    assign mem_wb_valid = cpu.dataCache_1_io_cpu_writeBack_isValid;
    assign mem_wb_addr  = cpu.dataCache_1_io_cpu_writeBack_address;
endmodule
