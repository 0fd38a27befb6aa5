// type: xdp
// expect: accept
// bpf_loop with a callback that keeps a sum and a count in the caller's stack.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct loop_ctx {
    __u64 sum;
    __u32 count;
};

static long add(__u64 i, void *c)
{
    struct loop_ctx *l = c;
    l->sum += i * 3;
    l->count++;
    return l->count >= 100;
}

SEC("xdp")
int loop_sum(struct xdp_md *ctx)
{
    struct loop_ctx l = {};
    bpf_loop(50, add, &l, 0);
    return l.sum & 1 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
