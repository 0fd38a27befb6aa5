/* An XDP program that counts packets and bytes per (EtherType, IP protocol) in a hash
 * map, looking through up to two VLAN tags, and drops IPv4/IPv6 packets whose TTL or hop
 * limit is exhausted. Run it with:
 *
 *   bpfkit test-run examples/xdp/proto_count.o --pcap crates/runtime/tests/corpus/packets.pcap --dump-maps
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct key {
	__u16 ethertype; /* host order */
	__u8 ip_proto;   /* 0 when not IP */
	__u8 pad;
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct key);
	__type(value, struct counter);
} counters SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

SEC("xdp")
int proto_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct key k = {};
	int verdict = XDP_PASS;
	__u32 off = sizeof(*eth);

	if (data + off > data_end)
		return XDP_ABORTED;
	k.ethertype = bpf_ntohs(eth->h_proto);
	for (int i = 0; i < 2; i++) {
		if (k.ethertype != ETH_P_8021Q && k.ethertype != ETH_P_8021AD)
			break;
		struct vlan_hdr *v = data + off;
		if ((void *)(v + 1) > data_end)
			break;
		k.ethertype = bpf_ntohs(v->proto);
		off += sizeof(*v);
	}
	if (k.ethertype == ETH_P_IP) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) <= data_end) {
			k.ip_proto = ip->protocol;
			if (ip->ttl <= 1)
				verdict = XDP_DROP;
		}
	} else if (k.ethertype == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) <= data_end) {
			k.ip_proto = ip6->nexthdr;
			if (ip6->hop_limit <= 1)
				verdict = XDP_DROP;
		}
	}

	__u64 len = data_end - data;
	struct counter *c = bpf_map_lookup_elem(&counters, &k);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, len);
	} else {
		struct counter first = { 1, len };
		bpf_map_update_elem(&counters, &k, &first, BPF_NOEXIST);
	}
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
