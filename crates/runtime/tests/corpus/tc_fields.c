/* Every __sk_buff field a tc program may read, copied into a map for each packet class,
 * so the test-run context is compared field by field with the kernel's. */
#include "common.h"

struct fields {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto;
	__u32 priority, ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid;
	__u32 napi_id, wire_len, gso_segs, gso_size, data_len, meta_len;
	__u64 tstamp, hwtstamp;
};

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, struct fields); } seen SEC(".maps");

SEC("tc")
int tc_fields(struct __sk_buff *skb)
{
	struct fields f = {};
	f.len = skb->len;
	f.pkt_type = skb->pkt_type;
	f.mark = skb->mark;
	f.queue_mapping = skb->queue_mapping;
	f.protocol = skb->protocol;
	f.vlan_present = skb->vlan_present;
	f.vlan_tci = skb->vlan_tci;
	f.vlan_proto = skb->vlan_proto;
	f.priority = skb->priority;
	f.ingress_ifindex = skb->ingress_ifindex;
	f.ifindex = skb->ifindex;
	f.tc_index = skb->tc_index;
	for (int i = 0; i < 5; i++)
		f.cb[i] = skb->cb[i];
	f.hash = skb->hash;
	f.tc_classid = skb->tc_classid;
	f.napi_id = skb->napi_id;
	f.wire_len = skb->wire_len;
	f.gso_segs = skb->gso_segs;
	f.gso_size = skb->gso_size;
	f.data_len = skb->data_end - skb->data;
	f.meta_len = skb->data - skb->data_meta;
	f.tstamp = skb->tstamp;
	f.hwtstamp = skb->hwtstamp;
	__u32 key = skb->len;
	bpf_map_update_elem(&seen, &key, &f, BPF_ANY);
	/* Writable fields: the next run must not see them (a fresh skb each run). */
	skb->mark = 0x1234;
	skb->priority = 7;
	skb->cb[0] = 0xcafe;
	skb->tc_index = 3;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
