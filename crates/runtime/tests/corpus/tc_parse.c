/* tc with direct packet access: classify by L4 port, count in a hash keyed by port,
 * pass state between two helpers through cb[], write the TOS byte, drop telnet. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 32); __type(key, __u16); __type(value, __u64); } ports SEC(".maps");

SEC("tc")
int tc_parse(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u16 proto;
	int off = l3_offset(data, data_end, &proto);
	if (off < 0)
		return TC_ACT_SHOT;
	skb->cb[0] = off;
	if (proto != ETH_P_IP)
		return TC_ACT_UNSPEC;
	struct iphdr *ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return TC_ACT_SHOT;
	ip->tos = 0x10;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return TC_ACT_PIPE;
	struct udphdr *u = (void *)ip + ip->ihl * 4;
	if ((void *)(u + 1) > data_end)
		return TC_ACT_SHOT;
	__u16 port = bpf_ntohs(u->dest);
	__u64 one = 1, *c = bpf_map_lookup_elem(&ports, &port);
	if (c)
		(*c)++;
	else
		bpf_map_update_elem(&ports, &port, &one, BPF_ANY);
	__u8 first;
	if (bpf_skb_load_bytes(skb, skb->cb[0] + 9, &first, 1) == 0)
		skb->cb[1] = first;
	return port == 23 ? TC_ACT_SHOT : TC_ACT_OK + (skb->cb[1] == IPPROTO_UDP);
}

char LICENSE[] SEC("license") = "GPL";
