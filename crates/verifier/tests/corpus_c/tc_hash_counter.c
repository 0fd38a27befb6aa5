// type: tc
// expect: accept
// Per-ifindex packet counter in a hash map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

SEC("tc")
int count(struct __sk_buff *skb)
{
    __u32 key = skb->ifindex;
    __u64 one = 1;
    __u64 *v = bpf_map_lookup_elem(&counters, &key);
    if (v)
        *v += 1;
    else
        bpf_map_update_elem(&counters, &key, &one, BPF_ANY);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
