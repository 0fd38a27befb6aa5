// cgroup_skb ingress/egress programs counting bytes per direction.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} cg_bytes SEC(".maps");

static __always_inline void add(__u32 dir, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&cg_bytes, &dir);
	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	add(0, skb->len);
	return 1;
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	add(1, skb->len);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
