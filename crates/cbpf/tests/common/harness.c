/* Test oracle: drives libpcap's own bpf_image, bpf_validate and bpf_filter.
 *
 * Commands on stdin, one per line:
 *   P <n>          then n lines "<code> <jt> <jf> <k>": the current program
 *   I              print bpf_image() of each instruction, then a line "."
 *   V              print bpf_validate()'s result
 *   F <wirelen> <hex bytes, or - for none>
 *                  print bpf_filter()'s result on that packet
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INSNS 10000
#define MAX_PACKET 65536

static struct bpf_insn prog[MAX_INSNS];
static unsigned char packet[MAX_PACKET];
static char line[2 * MAX_PACKET + 64];

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int main(void)
{
	int n = 0;

	while (fgets(line, sizeof line, stdin) != NULL) {
		if (line[0] == 'P') {
			n = atoi(line + 2);
			if (n < 0 || n > MAX_INSNS)
				return 2;
			for (int i = 0; i < n; i++) {
				unsigned code, jt, jf, k;
				if (fgets(line, sizeof line, stdin) == NULL ||
				    sscanf(line, "%u %u %u %u", &code, &jt, &jf, &k) != 4)
					return 3;
				prog[i].code = (unsigned short)code;
				prog[i].jt = (unsigned char)jt;
				prog[i].jf = (unsigned char)jf;
				prog[i].k = k;
			}
		} else if (line[0] == 'I') {
			for (int i = 0; i < n; i++)
				puts(bpf_image(&prog[i], i));
			puts(".");
		} else if (line[0] == 'V') {
			printf("%d\n", bpf_validate(prog, n));
		} else if (line[0] == 'F') {
			char *p = line + 2;
			unsigned wirelen = (unsigned)strtoul(p, &p, 10);
			unsigned caplen = 0;
			while (*p == ' ')
				p++;
			while (hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && caplen < MAX_PACKET) {
				packet[caplen++] = (unsigned char)(hexval(p[0]) * 16 + hexval(p[1]));
				p += 2;
			}
			printf("%u\n", bpf_filter(prog, packet, wirelen, caplen));
		} else {
			return 4;
		}
	}
	return 0;
}
