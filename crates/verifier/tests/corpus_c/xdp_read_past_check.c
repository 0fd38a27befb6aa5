// type: xdp
// expect: reject "invalid access to packet"
// Checks 14 bytes, then reads byte 20.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int read_past_check(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    if (data + 14 > (unsigned char *)data_end)
        return XDP_DROP;
    return data[20] ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
