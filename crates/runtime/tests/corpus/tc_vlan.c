/* tc: read VLAN tags and the inner header with bpf_skb_load_bytes (including reads past
 * the end, which fail with -EFAULT and zero the buffer), set priority and tc_classid
 * from the PCP bits, count per VLAN id in an array. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4096); __type(key, __u32); __type(value, __u32); } per_vid SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __s64); } last_err SEC(".maps");

SEC("tc")
int tc_vlan(struct __sk_buff *skb)
{
	__u8 hdr[18];
	__u32 zero = 0;
	__s64 *err = bpf_map_lookup_elem(&last_err, &zero);
	long r = bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr));
	if (r) {
		if (err)
			*err = r * 1000 + hdr[0] + hdr[17];
		return TC_ACT_UNSPEC;
	}
	__u16 et = (hdr[12] << 8) | hdr[13];
	if (et != ETH_P_8021Q_ && et != ETH_P_8021AD_)
		return TC_ACT_OK;
	__u16 tci = (hdr[14] << 8) | hdr[15];
	__u32 vid = tci & 0xfff;
	__u32 *n = bpf_map_lookup_elem(&per_vid, &vid);
	if (n)
		*n += 1;
	skb->priority = tci >> 13;
	skb->tc_classid = 0x10000 | vid;
	__u8 far[4];
	long r2 = bpf_skb_load_bytes(skb, skb->len - 2, far, 4);
	if (err)
		*err = r2;
	return TC_ACT_RECLASSIFY;
}

char LICENSE[] SEC("license") = "GPL";
