// isaforge SoC harness: drives the Verilated isaforge_soc_top (VexRiscv_FullCfu + Cfu), models
// RAM and the MMIO block on both Wishbone buses, and reports how the run ended.
//
// Usage: Visaforge_soc_top --ram-base A --ram-bytes N --image FILE --image-base A --entry A
//                          [--max-cycles N] [--wait-states N] [--console FILE]
//                          [--dump ADDR:LEN:FILE]...
//                          [--l2 BYTES:LINE:MISS:EVICT:ROW_MISS:ROW_BYTES:BANKS]
// --l2: RAM behind a direct-mapped write-back, write-allocate cache of BYTES in lines of LINE bytes
// (LiteX's L2 in front of LiteDRAM): an access that misses waits MISS cycles more (the line's refill),
// EVICT more when the line it replaces is dirty (its write-back, row change included), and ROW_MISS
// more when the refill's bank (BANKS banks of ROW_BYTES, interleaved above the row) has another row
// open (a write-back leaves its own row open).
// The cache starts the way LiteX's BIOS leaves it when it jumps to the program: its flush_l2_cache()
// read the first 2 x BYTES of main RAM, so it holds the second BYTES, clean, and those rows are open.
// Without --l2 every access waits --wait-states cycles (an SRAM).
// The last stdout line is the machine-readable summary:
//   ISAFORGE_SIM reason=<exit|trap|bus_error|timeout|error> exit_code=.. cycles=.. pc=0x..
//                addr=0x.. write=0|1 bus=<i|d> mcause=0x.. mepc=0x.. mtval=0x.. insn=0x.. msg=..
//                eval=<rise|direct|eval> (how the model was evaluated: see "Speed" below)
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "Visaforge_soc_top.h"
#include "Visaforge_soc_top___024root.h"
#include "verilated.h"

// Speed (the model runs for millions of cycles per measurement; none of this changes a cycle):
// * Each edge runs the model's evaluation itself, not eval(): eval() adds per call a mutex-guarded
//   sweep of dynamic objects and a flush of messages queued by other threads, and this single-threaded
//   design of plain modules has neither. Declared weak: a Verilator whose generated code names it
//   otherwise leaves it null, and eval() is used.
// * ISAFORGE_POSEDGE_ONLY (defined by simulator.vexriscv.build_soc when no source mentions another
//   edge): nothing happens on the falling edge, and the bus outputs the harness samples are registers
//   (so they do not depend on this cycle's ACK), so the falling-edge evaluation is skipped; the model
//   only has to see the clock low before the next rising edge, which is its edge detector's state.
// * ISAFORGE_PLAIN_EVAL: neither (eval() on both edges), the reference the fast paths are tested against.
void Visaforge_soc_top___024root___eval(Visaforge_soc_top___024root *vlSelf) __attribute__((weak));

namespace {

// the rising-edge detector's memory of the clock, where this Verilator keeps it (else: no fast path)
template <typename R>
auto clear_clock_memory(R *root, int) -> decltype(root->__Vtrigprevexpr___TOP__clk__0 = 0, true) {
    root->__Vtrigprevexpr___TOP__clk__0 = 0;
    return true;
}
template <typename R>
bool clear_clock_memory(R *, long) {
    return false;
}

constexpr uint32_t kMmioBase = 0xF0000000u;
constexpr uint32_t kMmioSize = 0x1000u;
constexpr size_t kConsoleLimit = 1u << 20;

enum class Reason { Running, Exit, Trap, BusError, Timeout };

struct Dump {
    uint32_t addr;
    uint32_t len;
    std::string path;
};

// LiteX's L2 cache and the DRAM row buffers behind it (--l2); lines = 0: no cache (an SRAM)
struct L2 {
    uint32_t lines = 0, line_shift = 4, miss = 0, evict = 0, row_miss = 0, row_shift = 11, bank_mask = 3;
    std::vector<uint32_t> tag;  // line number held (kNoLine: none)
    std::vector<uint8_t> dirty;
    std::vector<uint32_t> open_row;  // per bank (kNoLine: closed)
    static constexpr uint32_t kNoLine = 0xFFFFFFFFu;

    uint32_t dram(uint32_t addr) {  // the row-buffer cost of one DRAM access at addr (it opens its row)
        uint32_t &open = open_row[(addr >> row_shift) & bank_mask];
        const uint32_t row = addr >> row_shift >> __builtin_popcount(bank_mask);
        if (open == row) return 0;
        open = row;
        return row_miss;
    }
    // the extra wait of one access (and its effect on the cache's state)
    uint32_t access(uint32_t addr, bool write) {
        const uint32_t line = addr >> line_shift, idx = line & (lines - 1);
        if (tag[idx] == line) {
            dirty[idx] |= write;
            return 0;
        }
        uint32_t extra = miss;
        if (tag[idx] != kNoLine && dirty[idx]) {  // the write-back: its row change is part of its cost
            extra += evict;
            dram(tag[idx] << line_shift);
        }
        extra += dram(addr);
        tag[idx] = line;
        dirty[idx] = write;
        return extra;
    }
};

struct Sim {
    uint32_t ram_base = 0x40000000u;
    uint32_t ram_bytes = 256u * 1024u;
    std::vector<uint32_t> ram;
    uint64_t cycle = 0;
    Reason reason = Reason::Running;
    uint32_t exit_code = 0;
    uint32_t err_addr = 0, err_pc = 0;
    uint32_t last_mem_pc = 0, last_mem_addr = 0;  // latest memory instruction seen in writeBack
    bool err_write = false, err_ibus = false;
    uint32_t trap_regs[4] = {0, 0, 0, 0};  // mcause, mepc, mtval, insn
    std::string console;
    bool console_truncated = false;
    L2 l2;
};

struct Port {
    bool ibus;
    int waited = 0;
    int need = -1;  // the wait of the access in progress, decided on its first cycle (-1: none)
};


[[noreturn]] void fail(const char *msg) {
    std::printf("ISAFORGE_SIM reason=error msg=%s\n", msg);
    std::fflush(stdout);
    std::exit(2);
}

uint32_t mmio_read(Sim &s, uint32_t off) {
    switch (off) {
        case 0x08: return static_cast<uint32_t>(s.cycle);
        case 0x0C: return static_cast<uint32_t>(s.cycle >> 32);
        default: return 0;
    }
}

void mmio_write(Sim &s, uint32_t off, uint32_t v) {
    switch (off) {
        case 0x00:
            if (s.console.size() < kConsoleLimit) s.console.push_back(static_cast<char>(v & 0xFF));
            else s.console_truncated = true;
            break;
        case 0x04:
            s.exit_code = v;
            s.reason = Reason::Exit;
            break;
        case 0x10: s.trap_regs[0] = v; break;
        case 0x14: s.trap_regs[1] = v; break;
        case 0x18: s.trap_regs[2] = v; break;
        case 0x1C: s.trap_regs[3] = v; break;
        case 0x20: s.reason = Reason::Trap; break;
        default: break;
    }
}

// One Wishbone slave beat decision for the current cycle. Returns the ACK to present.
inline uint8_t serve(Sim &s, Port &p, int wait_states, uint8_t cyc, uint8_t stb, uint8_t we,
                     uint32_t adr_word, uint32_t dat_w, uint8_t sel, uint32_t &dat_r, uint32_t pc) {
    if (!(cyc && stb)) {
        p.waited = 0;
        p.need = -1;
        return 0;
    }
    const uint32_t addr = adr_word << 2;
    const uint32_t off = addr - s.ram_base;
    if (p.need < 0) p.need = wait_states + (s.l2.lines && off < s.ram_bytes ? s.l2.access(addr, we) : 0);
    if (p.waited < p.need) {
        p.waited++;
        return 0;
    }
    p.waited = 0;
    p.need = -1;
    if (off < s.ram_bytes) {
        uint32_t &w = s.ram[off >> 2];
        if (we) {
            if (sel == 0xF) {
                w = dat_w;
            } else {
                uint32_t mask = 0;
                for (int b = 0; b < 4; b++)
                    if (sel & (1u << b)) mask |= 0xFFu << (8 * b);
                w = (w & ~mask) | (dat_w & mask);
            }
        } else {
            dat_r = w;
        }
        return 1;
    }
    if (addr - kMmioBase < kMmioSize && !p.ibus) {
        if (we) mmio_write(s, addr - kMmioBase, dat_w);
        else dat_r = mmio_read(s, addr - kMmioBase);
        return 1;
    }
    // Unmapped: acknowledge anyway (the CPU ignores ERR) and end the run.
    if (s.reason == Reason::Running) {
        s.reason = Reason::BusError;
        s.err_addr = addr;
        s.err_write = we != 0;
        s.err_ibus = p.ibus;
        s.err_pc = p.ibus ? addr : pc;
        // A cached load refills the whole line: name the instruction's own address when it is in
        // the failing word or line.
        if (!p.ibus && (s.last_mem_addr >> 5) == (addr >> 5)) {
            s.err_addr = s.last_mem_addr;
        }
    }
    dat_r = 0;
    return 1;
}

uint64_t parse_u64(const char *text, const char *what) {
    char *end = nullptr;
    uint64_t v = std::strtoull(text, &end, 0);
    if (!end || *end) {
        static char buf[256];
        std::snprintf(buf, sizeof buf, "bad_value_for_%s", what);
        fail(buf);
    }
    return v;
}

}  // namespace

int main(int argc, char **argv) {
    Sim s;
    std::string image_path, console_path;
    uint32_t image_base = 0, entry = 0;
    bool have_entry = false;
    uint64_t max_cycles = 50000000ull;
    int wait_states = 0;
    std::vector<Dump> dumps;

    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> const char * {
            if (i + 1 >= argc) fail("missing_argument");
            return argv[++i];
        };
        if (a == "--ram-base") s.ram_base = static_cast<uint32_t>(parse_u64(next(), "ram-base"));
        else if (a == "--ram-bytes") s.ram_bytes = static_cast<uint32_t>(parse_u64(next(), "ram-bytes"));
        else if (a == "--image") image_path = next();
        else if (a == "--image-base") image_base = static_cast<uint32_t>(parse_u64(next(), "image-base"));
        else if (a == "--entry") { entry = static_cast<uint32_t>(parse_u64(next(), "entry")); have_entry = true; }
        else if (a == "--max-cycles") max_cycles = parse_u64(next(), "max-cycles");
        else if (a == "--wait-states") wait_states = static_cast<int>(parse_u64(next(), "wait-states"));
        else if (a == "--console") console_path = next();
        else if (a == "--l2") {
            uint32_t v[7];
            std::string spec = next();
            size_t at = 0;
            for (int k = 0; k < 7; k++) {
                size_t end = spec.find(':', at);
                if ((end == std::string::npos) != (k == 6)) fail("bad_l2_spec");
                v[k] = static_cast<uint32_t>(parse_u64(spec.substr(at, end - at).c_str(), "l2"));
                at = end + 1;
            }
            const auto pow2 = [](uint32_t x) { return x && !(x & (x - 1)); };
            if (!pow2(v[0]) || !pow2(v[1]) || v[1] < 4 || v[1] > v[0] || !pow2(v[5]) || !pow2(v[6]))
                fail("bad_l2_geometry");
            L2 &c = s.l2;
            c.lines = v[0] / v[1];
            c.line_shift = static_cast<uint32_t>(__builtin_ctz(v[1]));
            c.miss = v[2];
            c.evict = v[3];
            c.row_miss = v[4];
            c.row_shift = static_cast<uint32_t>(__builtin_ctz(v[5]));
            c.bank_mask = v[6] - 1;
            c.tag.assign(c.lines, L2::kNoLine);
            c.dirty.assign(c.lines, 0);
            c.open_row.assign(v[6], L2::kNoLine);
        }
        else if (a == "--dump") {
            std::string spec = next();
            size_t c1 = spec.find(':'), c2 = spec.find(':', c1 == std::string::npos ? 0 : c1 + 1);
            if (c1 == std::string::npos || c2 == std::string::npos) fail("bad_dump_spec");
            Dump d;
            d.addr = static_cast<uint32_t>(parse_u64(spec.substr(0, c1).c_str(), "dump-addr"));
            d.len = static_cast<uint32_t>(parse_u64(spec.substr(c1 + 1, c2 - c1 - 1).c_str(), "dump-len"));
            d.path = spec.substr(c2 + 1);
            dumps.push_back(d);
        } else {
            fail("unknown_argument");
        }
    }
    if (s.ram_bytes == 0 || (s.ram_bytes & 3) || (s.ram_base & 3)) fail("bad_ram_geometry");
    if (!have_entry) entry = s.ram_base;
    s.ram.assign(s.ram_bytes / 4, 0);
    if (s.l2.lines) {  // as LiteX's BIOS leaves it (see --l2 above)
        L2 &c = s.l2;
        const uint32_t bytes = c.lines << c.line_shift, first = s.ram_base + bytes;
        for (uint32_t i = 0; i < c.lines; i++) c.tag[i] = (first >> c.line_shift) + i;
        for (uint32_t a = first; a - first < bytes; a += 1u << c.row_shift) c.dram(a);
    }

    if (!image_path.empty()) {
        FILE *f = std::fopen(image_path.c_str(), "rb");
        if (!f) fail("cannot_open_image");
        std::vector<uint8_t> img;
        uint8_t buf[65536];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) img.insert(img.end(), buf, buf + n);
        std::fclose(f);
        uint32_t off = image_base - s.ram_base;
        if (image_base < s.ram_base || static_cast<uint64_t>(off) + img.size() > s.ram_bytes)
            fail("image_does_not_fit_in_ram");
        std::memcpy(reinterpret_cast<uint8_t *>(s.ram.data()) + off, img.data(), img.size());
    }
    for (const Dump &d : dumps) {
        uint64_t off = static_cast<uint64_t>(d.addr) - s.ram_base;
        if (d.addr < s.ram_base || off + d.len > s.ram_bytes) fail("dump_range_outside_ram");
    }

    VerilatedContext ctx;
    ctx.commandArgs(0, static_cast<const char **>(nullptr));
    Visaforge_soc_top top(&ctx);
    top.reset_vector = entry;
    top.ibus_ack = 0;
    top.dbus_ack = 0;
    top.ibus_dat_r = 0;
    top.dbus_dat_r = 0;
    top.reset = 1;
    for (int i = 0; i < 16; i++) {
        top.clk = 0;
        top.eval();
        top.clk = 1;
        top.eval();
    }
    top.reset = 0;
    top.clk = 0;
    top.eval();

    Visaforge_soc_top___024root *const root = top.rootp;
#ifdef ISAFORGE_PLAIN_EVAL
    const bool direct = false;  // the reference: eval() on both edges
#else
    const bool direct = Visaforge_soc_top___024root___eval != nullptr;
#endif
#ifdef ISAFORGE_POSEDGE_ONLY
    const bool skip_fall = direct && clear_clock_memory(root, 0);
#else
    const bool skip_fall = false;
#endif
    auto eval = [&]() {
        if (direct) Visaforge_soc_top___024root___eval(root);
        else top.eval();
    };

    Port ip{true}, dp{false};
    while (true) {
        // Low phase: the outputs reflect the state after the last edge with ACK deasserted.
        uint32_t idat = top.ibus_dat_r, ddat = top.dbus_dat_r;
        uint8_t iack = serve(s, ip, wait_states, top.ibus_cyc, top.ibus_stb, 0, top.ibus_adr, 0, 0xF,
                             idat, 0);
        uint8_t dack = serve(s, dp, wait_states, top.dbus_cyc, top.dbus_stb, top.dbus_we, top.dbus_adr,
                             top.dbus_dat_w, top.dbus_sel, ddat, s.last_mem_pc);
        top.ibus_ack = iack;
        top.ibus_dat_r = idat;
        top.dbus_ack = dack;
        top.dbus_dat_r = ddat;
        top.clk = 1;
        eval();
        s.cycle++;
        top.ibus_ack = 0;
        top.dbus_ack = 0;
        top.clk = 0;
        if (skip_fall) clear_clock_memory(root, 0);
        else eval();
        if (top.mem_wb_valid) {
            s.last_mem_pc = top.pc_writeback;
            s.last_mem_addr = top.mem_wb_addr;
        }
        if (s.reason != Reason::Running) break;
        if (s.cycle >= max_cycles) {
            s.reason = Reason::Timeout;
            break;
        }
    }
    const uint32_t last_pc = top.pc_writeback;
    top.final();

    if (!console_path.empty()) {
        FILE *f = std::fopen(console_path.c_str(), "wb");
        if (!f) fail("cannot_write_console");
        std::fwrite(s.console.data(), 1, s.console.size(), f);
        std::fclose(f);
    }
    for (const Dump &d : dumps) {
        FILE *f = std::fopen(d.path.c_str(), "wb");
        if (!f) fail("cannot_write_dump");
        std::fwrite(reinterpret_cast<const uint8_t *>(s.ram.data()) + (d.addr - s.ram_base), 1, d.len, f);
        std::fclose(f);
    }

    const char *reason = "exit";
    uint32_t pc = last_pc;
    switch (s.reason) {
        case Reason::Exit: reason = "exit"; break;
        case Reason::Trap: reason = "trap"; pc = s.trap_regs[1]; break;
        case Reason::BusError: reason = "bus_error"; pc = s.err_pc; break;
        case Reason::Timeout: reason = "timeout"; break;
        case Reason::Running: reason = "error"; break;
    }
    std::printf(
        "ISAFORGE_SIM reason=%s exit_code=%" PRIu32 " cycles=%" PRIu64 " pc=0x%08" PRIx32
        " addr=0x%08" PRIx32 " write=%d bus=%c mcause=0x%08" PRIx32 " mepc=0x%08" PRIx32
        " mtval=0x%08" PRIx32 " insn=0x%08" PRIx32 " console_truncated=%d eval=%s\n",
        reason, s.exit_code, s.cycle, pc, s.err_addr, s.err_write ? 1 : 0, s.err_ibus ? 'i' : 'd',
        s.trap_regs[0], s.trap_regs[1], s.trap_regs[2], s.trap_regs[3], s.console_truncated ? 1 : 0,
        skip_fall ? "rise" : direct ? "direct" : "eval");
    std::fflush(stdout);
    return 0;
}
