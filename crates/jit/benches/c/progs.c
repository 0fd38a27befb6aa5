/* The native-comparison benchmark programs. Each takes one pointer to a buffer whose first
 * 8 bytes hold the payload length and returns a 64-bit result. Compiled twice from this
 * file: natively (clang -O2, at benchmark time) and to eBPF (build.sh, checked in as
 * raw bytecode), so the JIT and the native code run the same algorithm on the same data. */
#ifdef __bpf__
#define SEC(name) __attribute__((section(name), used))
#else
#define SEC(name)
#endif

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

/* RFC 1071 Internet checksum over big-endian 16-bit words. */
SEC("bench/checksum") u64 checksum(u8 *mem)
{
	u64 len = *(u64 *)mem;
	u8 *p = mem + 8;
	u64 sum = 0;
	for (u64 i = 0; i + 1 < len; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* FNV-1a, 64-bit. */
SEC("bench/hash") u64 fnv1a(u8 *mem)
{
	u64 len = *(u64 *)mem;
	u8 *p = mem + 8;
	u64 h = 0xcbf29ce484222325ULL;
	for (u64 i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Sieve of Eratosthenes over the payload bytes as flags: number of primes below len. */
SEC("bench/sieve") u64 sieve(u8 *mem)
{
	u64 len = *(u64 *)mem;
	u8 *p = mem + 8;
	u64 count = 0;
	/* A computed value (1 from 2 on), not a constant: compilers would turn a constant
	 * fill into memset, which eBPF cannot call. */
	for (u64 i = 0; i < len; i++)
		p[i] = i > 1;
	for (u64 i = 2; i < len; i++) {
		if (!p[i])
			continue;
		count++;
		for (u64 j = i * i; j < len; j += i)
			p[j] = 0;
	}
	return count;
}

/* Copies the first half of the payload onto the second, 8 bytes at a time (each word mixed
 * with its index, which keeps compilers from calling memcpy, unavailable to eBPF), then
 * folds the copy into a checksum so the work cannot be skipped. */
SEC("bench/memcpy") u64 copy_words(u8 *mem)
{
	u64 len = *(u64 *)mem;
	u64 *p = (u64 *)(mem + 8);
	u64 words = len / 16;
	u64 acc = 0;
	for (u64 i = 0; i < words; i++)
		p[words + i] = p[i] ^ i;
	for (u64 i = 0; i < words; i++)
		acc = (acc ^ p[words + i]) * 3;
	return acc;
}
