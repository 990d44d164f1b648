// Default CFU when none is given: accepts any command and answers 0 on the next cycle.
module Cfu (
    input             clk,
    input             reset,
    input             cmd_valid,
    output            cmd_ready,
    input      [9:0]  cmd_payload_function_id,
    input      [31:0] cmd_payload_inputs_0,
    input      [31:0] cmd_payload_inputs_1,
    output reg        rsp_valid,
    input             rsp_ready,
    output     [31:0] rsp_payload_outputs_0
);
    assign cmd_ready = !rsp_valid || rsp_ready;
    assign rsp_payload_outputs_0 = 32'd0;
    always @(posedge clk) begin
        if (reset)
            rsp_valid <= 1'b0;
        else if (cmd_valid && cmd_ready)
            rsp_valid <= 1'b1;
        else if (rsp_ready)
            rsp_valid <= 1'b0;
    end
endmodule
