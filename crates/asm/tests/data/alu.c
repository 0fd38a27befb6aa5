// ALU operations of both widths, register and immediate forms, byte swaps,
// 64-bit constants and conditional jumps of every comparison.
// Built for -mcpu=v2 (64-bit ALU/JMP only) and -mcpu=v3 (ALU32 and JMP32).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
typedef int s32;
typedef unsigned short u16;

#define NOINLINE __attribute__((noinline))

NOINLINE u64 alu64_reg(u64 a, u64 b, u64 c)
{
	u64 r = a + b;
	r -= c;
	r *= b;
	r /= c;
	r |= a;
	r &= b;
	r <<= c;
	r >>= a;
	r ^= c;
	r = (u64)((s64)r >> b);
	r = a - r;
	return -r;
}

NOINLINE u64 alu64_imm(u64 a)
{
	a += 5;
	a *= 13;
	a /= 3;
	a |= 0x100;
	a &= 0xffff0;
	a <<= 3;
	a >>= 5;
	a ^= -1000;
	a = (u64)((s64)a >> 7);
	a -= 0x7fffffff;
	return a;
}

NOINLINE u32 alu32_reg(u32 a, u32 b, u32 c)
{
	u32 r = a + b;
	r -= c;
	r *= b;
	r /= c;
	r |= a;
	r &= b;
	r <<= c;
	r >>= a;
	r ^= c;
	r = (u32)((s32)r >> b);
	r = a - r;
	return -r;
}

NOINLINE u32 alu32_imm(u32 a)
{
	a += 5;
	a *= 13;
	a /= 3;
	a |= 0x100;
	a &= 0xffff0;
	a <<= 3;
	a >>= 5;
	a ^= 0x80000000;
	a = (u32)((s32)a >> 7);
	return a;
}

NOINLINE u64 swaps(u64 a, u32 b, u16 c)
{
	return __builtin_bswap64(a) + bpf_htonl(b) + bpf_htons(c) + bpf_ntohs((u16)(a >> 16));
}

NOINLINE u64 constants(u64 a)
{
	return (a ^ 0x123456789abcdef0ULL) + (a & 0xffffffff00000000ULL) - 0x8000000000000000ULL;
}

#define CMP(name, T, op)                                                  \
	NOINLINE int name##_reg(T a, T b)                                 \
	{                                                                 \
		if (a op b)                                               \
			return bpf_get_prandom_u32();                     \
		return 7;                                                 \
	}                                                                 \
	NOINLINE int name##_imm(T a)                                      \
	{                                                                 \
		if (a op(T) 1000)                                         \
			return bpf_get_prandom_u32();                     \
		return 9;                                                 \
	}

CMP(eq64, u64, ==)
CMP(ne64, u64, !=)
CMP(gt64, u64, >)
CMP(ge64, u64, >=)
CMP(lt64, u64, <)
CMP(le64, u64, <=)
CMP(sgt64, s64, >)
CMP(sge64, s64, >=)
CMP(slt64, s64, <)
CMP(sle64, s64, <=)
CMP(eq32, u32, ==)
CMP(ne32, u32, !=)
CMP(gt32, u32, >)
CMP(ge32, u32, >=)
CMP(lt32, u32, <)
CMP(le32, u32, <=)
CMP(sgt32, s32, >)
CMP(sge32, s32, >=)
CMP(slt32, s32, <)
CMP(sle32, s32, <=)

NOINLINE int negative_compare(s64 a, s32 b)
{
	if (a < -5)
		return 1;
	if (b > -100000)
		return 2;
	return 3;
}

SEC("xdp")
int alu_main(struct xdp_md *ctx)
{
	u64 a = ctx->data, b = ctx->data_end, c = ctx->ingress_ifindex;
	u64 r = alu64_reg(a, b, c) + alu64_imm(a) + alu32_reg(a, b, c) + alu32_imm(b);
	r += swaps(a, b, c) + constants(c);
	r += eq64_reg(a, b) + eq64_imm(a) + ne64_reg(a, b) + ne64_imm(a);
	r += gt64_reg(a, b) + gt64_imm(a) + ge64_reg(a, b) + ge64_imm(a);
	r += lt64_reg(a, b) + lt64_imm(a) + le64_reg(a, b) + le64_imm(a);
	r += sgt64_reg(a, b) + sgt64_imm(a) + sge64_reg(a, b) + sge64_imm(a);
	r += slt64_reg(a, b) + slt64_imm(a) + sle64_reg(a, b) + sle64_imm(a);
	r += eq32_reg(a, b) + eq32_imm(a) + ne32_reg(a, b) + ne32_imm(a);
	r += gt32_reg(a, b) + gt32_imm(a) + ge32_reg(a, b) + ge32_imm(a);
	r += lt32_reg(a, b) + lt32_imm(a) + le32_reg(a, b) + le32_imm(a);
	r += sgt32_reg(a, b) + sgt32_imm(a) + sge32_reg(a, b) + sge32_imm(a);
	r += slt32_reg(a, b) + slt32_imm(a) + sle32_reg(a, b) + sle32_imm(a);
	r += negative_compare(a, b);
	return r & 3;
}

char LICENSE[] SEC("license") = "GPL";
