/* A classic-style socket filter with ld_abs/ld_ind: counts IPv4 packets per protocol in
 * an LRU per-CPU hash and keeps only the first 64 bytes of UDP, all of TCP, none else. */
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

struct { __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } per_proto SEC(".maps");

SEC("socket")
int sock_count(struct __sk_buff *skb)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	__u32 proto = load_byte(skb, 9);
	__u64 one = 1, *c = bpf_map_lookup_elem(&per_proto, &proto);
	if (c)
		*c += 1;
	else
		bpf_map_update_elem(&per_proto, &proto, &one, BPF_NOEXIST);
	__u32 ihl = (load_byte(skb, 0) & 0xf) * 4;
	__u32 dport = load_half(skb, ihl + 2);
	if (proto == IPPROTO_TCP)
		return dport == 23 ? 0 : skb->len;
	if (proto == IPPROTO_UDP)
		return 64;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
