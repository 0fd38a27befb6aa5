// type: xdp
// expect: reject "write into map forbidden"
// .rodata is read-only for programs (BPF_F_RDONLY_PROG), even through a cast.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u64 limit = 10;

SEC("xdp")
int rodata_write(struct xdp_md *ctx)
{
    *(volatile __u64 *)&limit = 11;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
