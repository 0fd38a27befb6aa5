# type: socket_filter
# expect: reject "unbounded min value"
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
# The first round writes buf[0]; later rounds use the counter the previous round stored,
# and after 24 rounds the write leaves the stack. Checking one round is not enough.
r1 = 0
*(u64 *)(r10 - 8) = r1
*(u64 *)(r10 - 16) = r1
*(u64 *)(r10 - 24) = r1
r1 = 100
ld_pseudo r2, 4, 7
r3 = r10
r3 += -8
r4 = 0
call 181
r0 = 0
exit
r3 = *(u64 *)(r2 + 0)
r4 = r2
r4 += -16
r4 += r3
r5 = 1
*(u8 *)(r4 + 0) = r5
r3 += 1
*(u64 *)(r2 + 0) = r3
r0 = 0
exit
