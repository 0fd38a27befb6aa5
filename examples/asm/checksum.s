# The Internet checksum (RFC 1071) of the memory buffer: r1 = data, r2 = length.
# Run it: bpfkit run examples/asm/checksum.s --mem-hex "45 00 00 1c 00 00 40 00 40 11 00 00 7f 00 00 01 7f 00 00 01"
    r0 = 0
words:
    if r2 < 2 goto tail
    r3 = *(u16 *)(r1 + 0)
    r3 = be16 r3
    r0 += r3
    r1 += 2
    r2 -= 2
    goto words
tail:
    if r2 == 0 goto fold
    r3 = *(u8 *)(r1 + 0)
    r3 <<= 8
    r0 += r3
fold:
    r3 = r0
    r3 >>= 16
    if r3 == 0 goto done
    r0 &= 0xffff
    r0 += r3
    goto fold
done:
    r0 ^= 0xffff
    exit
