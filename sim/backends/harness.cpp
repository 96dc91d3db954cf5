// System harness for the Verilated Dysta scheduler (the netlist `make verilog` exports):
// the same per-cycle contract as sim/backends/pysim.py (see sim/contract.py and
// docs/simulation.md); fast-forward writes the scheduler's time-base port time_w.
//
// Usage: harness STIMULUS RESULT [VCD VCD_CYCLES]
// STIMULUS (text): header line
//   n_req num_slots counter_init time_width fast_forward ff_settle max_cycles tag_width
//   slot_off slot_w layer_off layer_w ctag_off ctag_w cfin_off cfin_w
// then per request: arrival tag payload n_layers (latency nnz) * n_layers
// RESULT (text): "A tag cycle", "D cycle slot tag layer n_active latency",
//   "C cycle tag finish", last line
//   "E end_cycle sim_cycles decision_cycles busy_cycles full_cycles".
// A completion belongs to the request of the last command (tags wrap at tag_width bits).
// Progress on stderr: "P completed" lines.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "Vdysta_sim.h"
#include "verilated.h"
#ifdef HARNESS_TRACE
#include "verilated_vcd_c.h"
#endif

struct Req {
    uint64_t arrival, tag, payload;
    std::vector<uint64_t> lat, nnz;
};

static uint64_t field(uint64_t word, int off, int width) {
    return (word >> off) & ((width >= 64) ? ~0ULL : ((1ULL << width) - 1));
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s STIMULUS RESULT [VCD VCD_CYCLES]\n", argv[0]);
        return 2;
    }
    FILE* in = fopen(argv[1], "r");
    if (!in) { fprintf(stderr, "harness: cannot open %s\n", argv[1]); return 2; }
    unsigned long long n_req, slots_n, cinit, twidth, ff, settle, max_cycles, tagw;
    int so, sw, lo, lw, to, tw, fo, fw;
    if (fscanf(in, "%llu %llu %llu %llu %llu %llu %llu %llu %d %d %d %d %d %d %d %d", &n_req,
               &slots_n, &cinit, &twidth, &ff, &settle, &max_cycles, &tagw, &so, &sw, &lo,
               &lw, &to, &tw, &fo, &fw) != 16) {
        fprintf(stderr, "harness: %s: bad header\n", argv[1]);
        return 2;
    }
    std::vector<Req> reqs(n_req);
    uint64_t max_tag = 0;
    for (auto& r : reqs) {
        unsigned long long a, t, p, nl;
        if (fscanf(in, "%llu %llu %llu %llu", &a, &t, &p, &nl) != 4) {
            fprintf(stderr, "harness: %s: bad request line\n", argv[1]);
            return 2;
        }
        r.arrival = a; r.tag = t; r.payload = p;
        if (t > max_tag) max_tag = t;
        r.lat.resize(nl); r.nnz.resize(nl);
        for (unsigned long long j = 0; j < nl; j++) {
            unsigned long long l, z;
            if (fscanf(in, "%llu %llu", &l, &z) != 2) {
                fprintf(stderr, "harness: %s: bad layer entry\n", argv[1]);
                return 2;
            }
            r.lat[j] = l; r.nnz[j] = z;
        }
    }
    fclose(in);
    std::vector<long> by_tag(max_tag + 1, -1);
    for (size_t i = 0; i < reqs.size(); i++) by_tag[reqs[i].tag] = (long)i;
    FILE* out = fopen(argv[2], "w");
    if (!out) { fprintf(stderr, "harness: cannot write %s\n", argv[2]); return 2; }

    const uint64_t tmask = (twidth >= 64) ? ~0ULL : ((1ULL << twidth) - 1);
    auto ctx = std::make_unique<VerilatedContext>();
    auto dut = std::make_unique<Vdysta_sim>(ctx.get());
#ifdef HARNESS_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    uint64_t vcd_cycles = 0;
    if (argc >= 5) {
        ctx->traceEverOn(true);
        vcd = std::make_unique<VerilatedVcdC>();
        dut->trace(vcd.get(), 99);
        vcd->open(argv[3]);
        vcd_cycles = strtoull(argv[4], nullptr, 10);
    }
#endif
    dut->clk = 0; dut->rst = 0;
    dut->requests_valid = 0; dut->npu_cmd_ready = 1; dut->npu_resp_valid = 0;
    dut->completions_ready = 1; dut->lut_w_valid = 0; dut->time_w_valid = 0;
    dut->eval();

    uint64_t k = 0, sim_cycles = 0, dec_cycles = 0, busy_cycles = 0, done = 0, full_cycles = 0;
    uint64_t run_slot = 0;
    const uint64_t tag_mask = (tagw >= 64) ? ~0ULL : ((1ULL << tagw) - 1);
    uint64_t due = 0, last_event = 0, nnz_out = 0, next_req = 0, free_from = 0;
    bool busy = false;
    std::vector<uint64_t> slots;
    uint64_t step = n_req / 100 ? n_req / 100 : 1;
    while (done < n_req) {
        if (sim_cycles >= max_cycles) {
            fprintf(stderr, "harness: %llu of %llu requests completed after %llu simulated "
                    "cycles\n", (unsigned long long)done, n_req, max_cycles);
            fclose(out);
            return 3;
        }
        const Req* r = nullptr;
        if (next_req < n_req) {
            const Req& c = reqs[next_req];
            uint64_t from = c.arrival > free_from ? c.arrival : free_from;
            if (k >= from) r = &c;
        }
        dut->requests_valid = r != nullptr;
        if (r) dut->requests_payload = r->payload;
        bool resp_valid = busy && k >= due;
        dut->npu_cmd_ready = !busy;
        dut->npu_resp_valid = resp_valid;
        dut->npu_resp_payload = resp_valid ? nnz_out : 0;
        dut->eval();
        uint64_t n_act = dut->n_active;
        bool event = false;
        if (r && dut->requests_ready) {
            fprintf(out, "A %llu %llu\n", (unsigned long long)r->tag, (unsigned long long)k);
            slots.push_back(r->tag);
            next_req++;
            free_from = k + 1;
            event = true;
        }
        if (!busy) {
            if (n_act) dec_cycles++;
            if (dut->npu_cmd_valid) {
                uint64_t p = dut->npu_cmd_payload;
                uint64_t slot = field(p, so, sw), layer = field(p, lo, lw);
                if (slot >= slots.size()) {
                    fprintf(stderr, "harness: command for empty slot %llu\n",
                            (unsigned long long)slot);
                    return 3;
                }
                uint64_t tag = slots[slot];
                run_slot = slot;
                const Req& q = reqs[by_tag[tag]];
                if (layer >= q.lat.size()) {
                    fprintf(stderr, "harness: request %llu has no layer %llu\n",
                            (unsigned long long)tag, (unsigned long long)layer);
                    return 3;
                }
                uint64_t lat = q.lat[layer];
                nnz_out = q.nnz[layer];
                fprintf(out, "D %llu %llu %llu %llu %llu %llu\n", (unsigned long long)k,
                        (unsigned long long)slot, (unsigned long long)tag,
                        (unsigned long long)layer, (unsigned long long)n_act,
                        (unsigned long long)lat);
                busy_cycles += lat;
                busy = true;
                due = k + lat;
                event = true;
            }
        } else if (resp_valid && dut->npu_resp_ready) {
            busy = false;
            event = true;
        }
        if (n_act == slots_n) full_cycles++;
        if (dut->completions_valid) {
            uint64_t p = dut->completions_payload;
            uint64_t ptag = field(p, to, tw), fin = field(p, fo, fw);
            if (run_slot >= slots.size() || (slots[run_slot] & tag_mask) != ptag) {
                fprintf(stderr, "harness: completion tag %llu in cycle %llu is not the "
                        "running request\n", (unsigned long long)ptag, (unsigned long long)k);
                return 3;
            }
            uint64_t tag = slots[run_slot];
            uint64_t last = slots.back();
            slots.pop_back();
            if (run_slot < slots.size()) slots[run_slot] = last;
            fprintf(out, "C %llu %llu %llu\n", (unsigned long long)k, (unsigned long long)tag,
                    (unsigned long long)fin);
            done++;
            if (done % step == 0 || done == n_req) fprintf(stderr, "P %llu\n",
                                                           (unsigned long long)done);
            event = true;
        }
        bool jump = false;
        uint64_t target = 0;
        if (event) {
            last_event = k;
        } else if (ff && (busy || !n_act) && k - last_event >= settle) {
            bool have = busy;
            target = due;
            if (next_req < n_req && n_act < slots_n) {
                const Req& c = reqs[next_req];
                uint64_t nxt = c.arrival > free_from ? c.arrival : free_from;
                if (!have || nxt < target) target = nxt;
                have = true;
            }
            if (have && target > k + 1) {
                jump = true;
                dut->time_w_valid = 1;
                dut->time_w_payload = (cinit + target) & tmask;
            }
        }
        dut->clk = 1;
        dut->eval();
#ifdef HARNESS_TRACE
        if (vcd && sim_cycles < vcd_cycles) vcd->dump((uint64_t)(2 * sim_cycles + 1));
#endif
        dut->clk = 0;
        dut->time_w_valid = 0;
        dut->eval();
#ifdef HARNESS_TRACE
        if (vcd && sim_cycles < vcd_cycles) vcd->dump((uint64_t)(2 * sim_cycles + 2));
#endif
        sim_cycles++;
        if (jump && n_act == slots_n) full_cycles += target - k - 1;
        k = jump ? target : k + 1;
    }
    fprintf(out, "E %llu %llu %llu %llu %llu\n", (unsigned long long)k,
            (unsigned long long)sim_cycles, (unsigned long long)dec_cycles,
            (unsigned long long)busy_cycles, (unsigned long long)full_cycles);
    fclose(out);
#ifdef HARNESS_TRACE
    if (vcd) vcd->close();
#endif
    dut->final();
    return 0;
}
