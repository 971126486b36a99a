/* crc32.c: table-driven CRC-32. The table is built by a constructor, so a
 * loader that skips DT_INIT_ARRAY shows up in compute_initialized(); the
 * CRC itself still builds the table on first use so results stay right. */
#include <compute.h>

static uint32_t table[256];
static int table_ready;
static int constructor_ran;

static void build_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  table_ready = 1;
}

__attribute__((constructor)) static void crc32_init(void) {
  build_table();
  constructor_ran = 1;
}

int compute_initialized(void) {
  return constructor_ran;
}

uint32_t crc32_update(uint32_t crc, const void *buf, size_t n) {
  const unsigned char *p = buf;
  if (!table_ready) build_table();
  crc = ~crc;
  while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
