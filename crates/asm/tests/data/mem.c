// Loads and stores of every size, stack traffic, maps and globals (64-bit immediate
// loads with relocations), helper calls, bpf-to-bpf calls and the legacy packet loads.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

struct record {
	u8 b;
	u16 h;
	u32 w;
	u64 dw;
};

// The legacy packet loads (LD_ABS / LD_IND) are reached through LLVM intrinsics.
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

static volatile u64 global_total;
static volatile u32 global_flag = 1;

__attribute__((noinline)) static u64 sum_record(struct record *r)
{
	return r->b + r->h + r->w + r->dw;
}

__attribute__((noinline)) static void fill_record(struct record *r, u64 v)
{
	r->b = v;
	r->h = v >> 8;
	r->w = v >> 16;
	r->dw = v * 3;
}

SEC("socket")
int mem_main(struct __sk_buff *skb)
{
	struct record rec = {};
	u32 key = skb->len & 3;
	u64 *slot;
	u64 v;

	fill_record(&rec, skb->hash);
	v = sum_record(&rec);
	v += load_byte(skb, 12);
	v += load_half(skb, 14);
	v += load_word(skb, 26);
	v += load_byte(skb, skb->cb[0]);
	v += load_half(skb, skb->cb[1] + 2);
	v += load_word(skb, skb->cb[2]);
	slot = bpf_map_lookup_elem(&counters, &key);
	if (slot)
		*slot += v;
	global_total += v;
	if (global_flag)
		bpf_printk("total %llu", global_total);
	return v != 0;
}

char LICENSE[] SEC("license") = "GPL";
