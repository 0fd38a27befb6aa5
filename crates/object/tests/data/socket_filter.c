// Socket filter keeping a per-protocol byte count in a HASH map.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_bytes SEC(".maps");

SEC("socket")
int count_protocols(struct __sk_buff *skb)
{
	__u8 proto = 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1) < 0)
		return 0;
	__u32 key = proto;
	__u64 len = skb->len;
	__u64 *v = bpf_map_lookup_elem(&proto_bytes, &key);
	if (v)
		__sync_fetch_and_add(v, len);
	else
		bpf_map_update_elem(&proto_bytes, &key, &len, BPF_NOEXIST);
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
