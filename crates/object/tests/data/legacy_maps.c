// Legacy map definitions in the "maps" section (struct bpf_map_def, five
// u32 fields, as written for libbpf < 1.0 / samples/bpf).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

struct bpf_map_def SEC("maps") legacy_flows = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 8,
	.value_size = 16,
	.max_entries = 1000,
	.map_flags = BPF_F_NO_PREALLOC,
};

SEC("socket")
int legacy_prog(struct __sk_buff *skb)
{
	__u32 k = skb->protocol & 15;
	__u64 *v = bpf_map_lookup_elem(&legacy_counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	__u64 fk = skb->hash;
	if (bpf_map_lookup_elem(&legacy_flows, &fk))
		return 0;
	return -1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
