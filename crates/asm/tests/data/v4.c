// v4 instructions (clang-19 -mcpu=v4): sign-extending moves and loads, signed division
// and modulo, unconditional byte swaps, and stores of immediates.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef long long s64;
typedef int s32;
typedef unsigned long long u64;

struct sample {
	signed char c;
	short s;
	int i;
	long long l;
};

__attribute__((noinline)) s64 signed_ops(struct sample *p, s64 a, s64 b)
{
	s64 r = p->c + p->s + p->i;
	r += (s64)(signed char)a + (s64)(short)b + (s64)(s32)(a * b);
	r += a / b + a % b + a / -7 + a % 13;
	s32 x = (s32)a, y = (s32)b;
	r += x / y + x % y + (s32)(signed char)x + (short)y + x / 5 + x % -3;
	return r;
}

__attribute__((noinline)) u64 swaps(u64 a, u64 b)
{
	return __builtin_bswap16(a) + __builtin_bswap32(b) + __builtin_bswap64(a);
}

__attribute__((noinline)) void store_imms(struct sample *p)
{
	p->c = -1;
	p->s = 300;
	p->i = -70000;
	p->l = 123456;
}

SEC("xdp")
int v4_main(struct xdp_md *ctx)
{
	struct sample s = {};
	store_imms(&s);
	s.l = ctx->data;
	return (signed_ops(&s, ctx->data, ctx->data_end) + swaps(ctx->data, s.l)) & 1;
}

char LICENSE[] SEC("license") = "GPL";
