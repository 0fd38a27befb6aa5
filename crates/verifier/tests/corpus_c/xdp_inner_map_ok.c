// type: xdp
// expect: accept
// A map of maps: look up the inner map, check it, then look up in it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} inner0 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
    __uint(max_entries, 2);
    __type(key, __u32);
    __array(values, struct inner);
} outer SEC(".maps") = {
    .values = { [0] = &inner0 },
};

SEC("xdp")
int inner_checked(struct xdp_md *ctx)
{
    __u32 k = 0;
    void *inner = bpf_map_lookup_elem(&outer, &k);
    if (!inner)
        return XDP_DROP;
    __u64 *v = bpf_map_lookup_elem(inner, &k);
    if (!v)
        return XDP_DROP;
    __sync_fetch_and_add(v, 1);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
