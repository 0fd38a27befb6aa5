// Map-in-map: an ARRAY_OF_MAPS with a statically initialized slot
// (`.values`) and a HASH_OF_MAPS, both declared with __array(values, ...).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
};

struct inner_array inner_a SEC(".maps");
struct inner_array inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_arr SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 16);
	__type(key, __u64);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 64);
		__type(key, __u32);
		__type(value, __u64);
	});
} outer_hash SEC(".maps");

SEC("xdp")
int mim_lookup(struct xdp_md *ctx)
{
	__u32 k = 0;
	void *inner = bpf_map_lookup_elem(&outer_arr, &k);
	if (!inner)
		return XDP_PASS;
	__u32 *v = bpf_map_lookup_elem(inner, &k);
	if (v && *v == 1)
		return XDP_DROP;
	__u64 hk = 7;
	void *ih = bpf_map_lookup_elem(&outer_hash, &hk);
	if (ih) {
		__u64 *c = bpf_map_lookup_elem(ih, &k);
		if (c)
			(*c)++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
