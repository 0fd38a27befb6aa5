/* Values found by hash lookups passed on to other helpers: as keys, update values, queue
 * elements, ring buffer records, pop destinations and spin locks. bpfkit's unchecked code
 * calls these lookups directly, so the values are not in the run's memory map. */
#include "common.h"

struct val {
	__u64 count;
	__u32 next_key;
	__u32 pad;
	__u64 bytes;
	__u64 popped;
};

struct locked {
	struct bpf_spin_lock lock;
	__u32 n;
	__u64 bytes;
};

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, struct val); } first SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, struct val); } second SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 64); __type(key, __u64); __type(value, __u64); } by_count SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 8); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, struct locked); } locks SEC(".maps");
struct key12 { __u32 a, b, c; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, struct key12); __type(value, __u32); } odd_keys SEC(".maps");

SEC("xdp")
int xdp_hashptr(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	__u32 k = len % 5;
	struct val *v = bpf_map_lookup_elem(&first, &k);
	if (!v) {
		struct val init = { .count = 1, .next_key = k + 100, .bytes = len };
		bpf_map_update_elem(&first, &k, &init, BPF_NOEXIST);
		return XDP_PASS;
	}
	v->count++;
	v->bytes += len;
	struct locked *l = bpf_map_lookup_elem(&locks, &k);
	if (l) {
		bpf_spin_lock(&l->lock);
		l->n++;
		l->bytes += len;
		bpf_spin_unlock(&l->lock);
	} else {
		struct locked z = {};
		bpf_map_update_elem(&locks, &k, &z, BPF_NOEXIST);
	}
	/* A key inside a map value; the whole value as an update's value. */
	struct val *w = bpf_map_lookup_elem(&second, &v->next_key);
	if (!w) {
		bpf_map_update_elem(&second, &v->next_key, v, BPF_ANY);
	} else {
		w->count += v->count;
		/* A pop into a map value. */
		bpf_map_pop_elem(&counts, &w->popped);
	}
	/* Map value bytes as another map's key, a queue element and a ring buffer record. */
	__u64 *c = bpf_map_lookup_elem(&by_count, &v->count);
	if (c) {
		*c += 1;
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&by_count, &v->count, &one, BPF_ANY);
	}
	bpf_map_push_elem(&counts, &v->count, BPF_EXIST);
	bpf_ringbuf_output(&events, &v->bytes, sizeof(v->bytes), 0);
	/* A 12-byte key read from the packet at an odd offset. */
	if (data + 15 + sizeof(struct key12) > data_end)
		return XDP_DROP;
	__u32 *o = bpf_map_lookup_elem(&odd_keys, data + 15);
	if (o)
		*o += 1;
	else
		bpf_map_update_elem(&odd_keys, data + 15, &len, BPF_NOEXIST);
	return o ? XDP_TX : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
