# type: socket_filter
# expect: accept
# kernel: accept
# The same callee called twice on unknown input, its result only returned: the result
# does not matter exactly, so the callee's paths merge at its exit.
r6 = *(u32 *)(r1 + 0)
r1 = r6
call f
r1 = r0
call f
r0 &= 1
exit
f:
r0 = 0
if r1 == 5 goto big
r0 += r1
goto out
big:
r0 = 100
out:
exit
