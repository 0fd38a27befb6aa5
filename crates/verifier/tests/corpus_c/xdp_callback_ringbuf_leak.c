// type: xdp
// expect: reject "Unreleased reference"
// A ring buffer record reserved inside a callback and never submitted or discarded.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

static long reserve(__u64 i, void *c)
{
    __u64 *rec = bpf_ringbuf_reserve(&events, 8, 0);
    if (rec)
        *rec = i;
    return 0;
}

SEC("xdp")
int callback_leak(struct xdp_md *ctx)
{
    bpf_loop(2, reserve, 0, 0);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
