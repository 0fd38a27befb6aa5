# type: socket_filter
# expect: reject "R4 unbounded memory access"
# kernel: reject "R4 unbounded memory access, use 'var &= const' or 'if (var < const)'"
r4 = *(u32 *)(r1 + 0)
if r4 == 0 goto out
r2 = 0
r3 = r10
r3 += -64
call 26
out:
r0 = 0
exit
