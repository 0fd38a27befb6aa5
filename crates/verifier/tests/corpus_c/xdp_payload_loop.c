// type: xdp
// expect: accept
// Sums up to 16 payload bytes with a bounded loop, checking each access.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int sum_payload(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data;
    unsigned char *data_end = (void *)(long)ctx->data_end;
    unsigned int sum = 0;
#pragma clang loop unroll(disable)
    for (int i = 0; i < 16; i++) {
        if (data + i + 1 > data_end)
            break;
        sum += data[i];
    }
    return sum & 1 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
