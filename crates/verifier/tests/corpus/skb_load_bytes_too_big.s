# type: socket_filter
# expect: reject "invalid write to stack R3 off=-8 size=16"
# kernel: reject "invalid write to stack R3 off=-8 size=16"
r2 = 0
r3 = r10
r3 += -8
r4 = 16
call 26
r0 = 0
exit
