/* Shared declarations for the differential corpus (bpfkit vs the kernel). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
struct icmphdr_ { __u8 type; __u8 code; __sum16 checksum; __be16 id; __be16 seq; };
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88a8

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

/* Layer-3 protocol and offset after up to two VLAN tags; -1 if truncated. */
static __always_inline int l3_offset(void *data, void *data_end, __u16 *proto)
{
	struct ethhdr *eth = data;
	int off = sizeof(*eth);
	if (data + off > data_end)
		return -1;
	__u16 p = bpf_ntohs(eth->h_proto);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (p != ETH_P_8021Q_ && p != ETH_P_8021AD_)
			break;
		struct vlan_hdr_ *v = data + off;
		if ((void *)(v + 1) > data_end)
			return -1;
		p = bpf_ntohs(v->proto);
		off += sizeof(*v);
	}
	*proto = p;
	return off;
}
