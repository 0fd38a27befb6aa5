// type: xdp
// expect: reject "max value is outside of the allowed memory range"
// Indexes a 4-entry array in a map value with an unchecked packet byte.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct value {
    __u32 slots[4];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct value);
} table SEC(".maps");

SEC("xdp")
int unchecked(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    __u32 key = 0;
    if (data + 1 > (unsigned char *)data_end)
        return XDP_DROP;
    struct value *v = bpf_map_lookup_elem(&table, &key);
    if (!v)
        return XDP_DROP;
    unsigned char idx = data[0];
    return v->slots[idx];
}

char LICENSE[] SEC("license") = "GPL";
