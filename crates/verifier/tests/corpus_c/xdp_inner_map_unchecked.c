// type: xdp
// expect: reject "R1 type=map_value_or_null expected=map_ptr"
// The inner map a map of maps gives may be NULL: it must be checked before use.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} inner0 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 2);
    __type(key, __u32);
    __array(values, struct inner);
} outer SEC(".maps") = {
    .values = { [0] = &inner0 },
};

SEC("xdp")
int inner_unchecked(struct xdp_md *ctx)
{
    __u32 k = 0;
    void *inner = bpf_map_lookup_elem(&outer, &k);
    __u64 *v = bpf_map_lookup_elem(inner, &k);
    return v ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
