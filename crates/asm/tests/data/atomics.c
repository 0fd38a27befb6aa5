// Atomic read-modify-write operations (-mcpu=v3): add/or/and/xor with and without
// fetch, exchange and compare-exchange, on 32 and 64 bits.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef unsigned long long u64;
typedef unsigned int u32;

u64 shared64;
u32 shared32;

SEC("tc")
int atomics_main(struct __sk_buff *skb)
{
	u64 v = skb->len, r = 0;
	u32 w = skb->hash;

	__sync_fetch_and_add(&shared64, v);
	__sync_fetch_and_or(&shared64, v);
	__sync_fetch_and_and(&shared64, v);
	__sync_fetch_and_xor(&shared64, v);
	r += __sync_fetch_and_add(&shared64, v);
	r += __sync_fetch_and_or(&shared64, v);
	r += __sync_fetch_and_and(&shared64, v);
	r += __sync_fetch_and_xor(&shared64, v);
	r += __sync_lock_test_and_set(&shared64, v);
	r += __sync_val_compare_and_swap(&shared64, v, r);

	__sync_fetch_and_add(&shared32, w);
	__sync_fetch_and_or(&shared32, w);
	__sync_fetch_and_and(&shared32, w);
	__sync_fetch_and_xor(&shared32, w);
	r += __sync_fetch_and_add(&shared32, w);
	r += __sync_fetch_and_or(&shared32, w);
	r += __sync_fetch_and_and(&shared32, w);
	r += __sync_fetch_and_xor(&shared32, w);
	r += __sync_lock_test_and_set(&shared32, w);
	r += __sync_val_compare_and_swap(&shared32, w, (u32)r);
	return r & 1;
}

char LICENSE[] SEC("license") = "GPL";
