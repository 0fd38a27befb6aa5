# type: socket_filter
# expect: reject "R4 invalid zero-sized read: u64=[0,0]"
# kernel: reject "R4 invalid zero-sized read: u64=[0,0]"
r2 = 0
r3 = r10
r3 += -8
r4 = 0
call 26
r0 = 0
exit
