// Two traffic-control classifiers (new "tc" and legacy "classifier" section
// names) sharing a PERCPU_ARRAY map and a read-only configuration in .rodata.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} tc_stats SEC(".maps");

const volatile __u32 drop_mark = 0x42;
const volatile __u32 min_len = 64;

static __always_inline int account(struct __sk_buff *skb, __u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&tc_stats, &slot);
	if (v)
		*v += skb->len;
	if (skb->mark == drop_mark || skb->len < min_len)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	return account(skb, 0);
}

SEC("classifier")
int tc_egress(struct __sk_buff *skb)
{
	return account(skb, 1);
}

char LICENSE[] SEC("license") = "GPL";
