# type: socket_filter
# expect: reject "infinite loop detected at insn 2"
# kernel: reject "infinite loop detected at insn 2"
# The loop resets its own counter; a fork inside it puts the repeated state at a prune
# point that is not the loop head.
r6 = *(u32 *)(r1 + 0)
r0 = 0
loop:
r8 = -1
if r6 == 5 goto skip
r0 += 1
skip:
r0 &= 7
r8 += 1
if r8 < 1 goto loop
exit
