// bpf-to-bpf calls: static noinline helpers in .text, a global function,
// nested calls, and two programs in different sections sharing callees.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} b2b_state SEC(".maps");

static __noinline __u32 mix(__u32 a, __u32 b)
{
	return (a * 31) ^ (b + 7);
}

static __noinline __u32 scale(__u32 x)
{
	__u32 k = 0;
	__u32 *s = bpf_map_lookup_elem(&b2b_state, &k);
	return mix(x, s ? *s : 1);
}

__noinline int global_check(__u32 v)
{
	return scale(v) & 1;
}

SEC("xdp")
int b2b_xdp(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	if (global_check(len))
		return XDP_DROP;
	return mix(len, 3) & 1 ? XDP_PASS : XDP_TX;
}

SEC("socket")
int b2b_sock(struct __sk_buff *skb)
{
	return scale(skb->len) & 0xff;
}

char LICENSE[] SEC("license") = "GPL";
