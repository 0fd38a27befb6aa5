/* Test oracle: libpcap's link-type names and its LINKTYPE <-> DLT mapping.
 * For every value 0..299 prints one line:
 *   <value> <name or -> <dlt_to_linktype(value) or -1> <linktype_to_dlt(value)>
 * dlt_to_linktype is observed through the header pcap_dump_open writes for
 * pcap_open_dead(value), linktype_to_dlt through pcap_datalink() of a file
 * whose header holds the value. argv[1] is a scratch file path.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

static int to_linktype(int dlt, const char *path)
{
	pcap_t *p = pcap_open_dead(dlt, 65535);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	uint32_t header[6];
	FILE *f;
	int lt = -1;

	if (d != NULL) {
		pcap_dump_close(d);
		f = fopen(path, "rb");
		if (f != NULL && fread(header, 4, 6, f) == 6)
			lt = (int)header[5];
		if (f != NULL)
			fclose(f);
	}
	pcap_close(p);
	return lt;
}

static int to_dlt(int linktype, const char *path)
{
	uint32_t header[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, (uint32_t)linktype };
	char err[PCAP_ERRBUF_SIZE];
	FILE *f = fopen(path, "wb");
	pcap_t *p;
	int dlt = -1;

	fwrite(header, 4, 6, f);
	fclose(f);
	p = pcap_open_offline(path, err);
	if (p != NULL) {
		dlt = pcap_datalink(p);
		pcap_close(p);
	}
	return dlt;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	for (int v = 0; v < 300; v++) {
		const char *name = pcap_datalink_val_to_name(v);
		printf("%d %s %d %d\n", v, name ? name : "-", to_linktype(v, argv[1]), to_dlt(v, argv[1]));
	}
	return 0;
}
