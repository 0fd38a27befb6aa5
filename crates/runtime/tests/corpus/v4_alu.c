/* cpu v4 and 32-bit arithmetic: signed division and modulo, sign-extending moves and
 * loads, byte swaps, 32-bit wrap-around and shifts. Built with clang-19 -mcpu=v4. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 12); __type(key, __u32); __type(value, __s64); } out SEC(".maps");

static __always_inline void put(__u32 k, __s64 v)
{
	__s64 *p = bpf_map_lookup_elem(&out, &k);
	if (p)
		*p ^= v;
}

SEC("xdp")
int xdp_v4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 24 > data_end)
		return XDP_PASS;
	__s8 sb = *(__s8 *)(data + 14);
	__s16 sh = *(__s16 *)(data + 16);
	__s32 sw = *(__s32 *)(data + 20);
	__u32 len = data_end - data;
	__s64 num = (__s64)sw * -7 + sb;
	__s32 den = (__s32)sh | 1;
	put(0, num / den);
	put(1, num % den);
	put(2, (__s32)len / -3);
	put(3, (__s32)(len * 0x10001u) % -5);
	put(4, (__s64)sb + (__s64)sh);
	put(5, __builtin_bswap16(sh) + __builtin_bswap32(sw) + __builtin_bswap64(num));
	__u32 w = len * 0xdeadbeefu;
	w = (w << (len & 31)) | (w >> ((32 - len) & 31));
	put(6, w);
	put(7, (__s32)w >> 7);
	put(8, (__s64)(__s32)(w - 0x80000000u));
	__u32 q = w / (len | 1), r = w % (len | 1);
	put(9, ((__u64)q << 32) | r);
	put(10, (__s64)num >> 13);
	return (int)(num / den) & 0x3fffffff;
}

char LICENSE[] SEC("license") = "GPL";
