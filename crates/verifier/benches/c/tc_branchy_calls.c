/* Many paths and calls: 24 header bytes each steer a branch, through bpf-to-bpf calls,
 * with a map update at the end; pruning decides the cost. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

static __attribute__((noinline)) __u64 mix(__u64 x, __u64 b)
{
	if (b & 1)
		x = x * 33 + b;
	else
		x ^= b << 3;
	if (b & 0x80)
		x += 7;
	return x;
}

SEC("tc")
int branchy_calls(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;
	__u64 x = 0;

	if (data + 24 > end)
		return 0;
#pragma clang loop unroll(full)
	for (int i = 0; i < 24; i++)
		x = mix(x, data[i]);
	__u32 k = x & 63;
	__u64 *v = bpf_map_lookup_elem(&hist, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
