// type: tc
// expect: accept
// bpf_for_each_map_elem over an array: the callback reads the key and value, updates the
// value and accumulates into its context.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

struct walk {
    __u64 sum;
    __u32 seen;
};

static long visit(void *map, __u32 *key, __u64 *val, struct walk *w)
{
    w->sum += *val + *key;
    w->seen++;
    *val += 1;
    return 0;
}

SEC("tc")
int for_each_sum(struct __sk_buff *skb)
{
    struct walk w = {};
    bpf_for_each_map_elem(&counts, visit, &w, 0);
    return w.sum > 100 ? 2 : 0;
}

char LICENSE[] SEC("license") = "GPL";
