# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: reject "R1 pointer arithmetic on map_ptr prohibited"
# kernel: reject "R1 pointer arithmetic on map_ptr prohibited"
ld_pseudo r1, 5, 0
r1 += 8
r0 = 0
exit
