# type: socket_filter
# expect: accept
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
# bpf_loop with a counter in the caller's stack: the rounds reach a fixpoint.
r1 = 0
*(u64 *)(r10 - 8) = r1
r1 = 10
ld_pseudo r2, 4, 8
r3 = r10
r3 += -8
r4 = 0
call 181
r0 = *(u64 *)(r10 - 8)
r0 = 0
exit
r0 = *(u64 *)(r2 + 0)
r0 += 1
*(u64 *)(r2 + 0) = r0
r0 = 0
exit
