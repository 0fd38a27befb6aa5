/* The __sk_buff fields a socket filter may read, and loads relative to the network
 * header (ld_abs/ld_ind and bpf_skb_load_bytes), per packet. */
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

struct fields {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto;
	__u32 priority, ingress_ifindex, ifindex, tc_index, cb[5], hash, napi_id, gso_segs, gso_size;
	__u32 b0, h2, w12, ind, load_ret;
	__u8 bytes[8];
};

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 40); __type(key, __u32); __type(value, struct fields); } seen SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } counter SEC(".maps");

SEC("socket")
int sock_fields(struct __sk_buff *skb)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&counter, &zero);
	if (!n)
		return 0;
	__u32 key = (*n)++;
	struct fields *f = bpf_map_lookup_elem(&seen, &key);
	if (!f)
		return 0;
	f->len = skb->len;
	f->pkt_type = skb->pkt_type;
	f->mark = skb->mark;
	f->queue_mapping = skb->queue_mapping;
	f->protocol = skb->protocol;
	f->vlan_present = skb->vlan_present;
	f->vlan_tci = skb->vlan_tci;
	f->vlan_proto = skb->vlan_proto;
	f->priority = skb->priority;
	f->ingress_ifindex = skb->ingress_ifindex;
	f->ifindex = skb->ifindex;
	f->tc_index = skb->tc_index;
	for (int i = 0; i < 5; i++)
		f->cb[i] = skb->cb[i];
	f->hash = skb->hash;
	f->napi_id = skb->napi_id;
	f->gso_segs = skb->gso_segs;
	f->gso_size = skb->gso_size;
	f->load_ret = bpf_skb_load_bytes(skb, 2, f->bytes, 8);
	skb->cb[1] = 77;
	if (skb->len < 1)
		return 1;
	f->b0 = load_byte(skb, 0);
	f->h2 = load_half(skb, 2);
	f->w12 = load_word(skb, 12);
	f->ind = load_half(skb, (f->b0 & 0xf) * 4);
	/* Out of bounds ends the program with 0. */
	return load_byte(skb, 1500) + 0x10000;
}

char LICENSE[] SEC("license") = "GPL";
