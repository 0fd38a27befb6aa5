// type: socket_filter
// expect: reject "At callback return the register R0"
// A bpf_loop callback must return 0 (continue) or 1 (stop).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static long two(__u64 i, void *c)
{
    return 2;
}

SEC("socket")
int bad_return(struct __sk_buff *skb)
{
    bpf_loop(4, two, 0, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
