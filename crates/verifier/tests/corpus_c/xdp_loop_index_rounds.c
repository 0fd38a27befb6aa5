// type: xdp
// expect: reject "variable-offset"
// The callback indexes a buffer with a counter it keeps in its context and never checks:
// the first round is safe, later rounds are not. One round of checking would miss it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct idx_ctx {
    __u32 i;
    __u8 buf[16];
};

static long fill(__u64 n, void *c)
{
    struct idx_ctx *x = c;
    x->buf[x->i] = 1;
    x->i++;
    return 0;
}

SEC("xdp")
int index_rounds(struct xdp_md *ctx)
{
    struct idx_ctx x = {};
    bpf_loop(1000, fill, &x, 0);
    return x.buf[3] ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
