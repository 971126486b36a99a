/* libbig.so: a 16 MiB library for the megapage tests and bench. Its
 * read-only segment holds big_blob (blob.S): 4096 pages, page i beginning
 * with the word BIG_MAGIC ^ i and zero after it. mkfs lays the library out
 * in 4 MiB-aligned extents and exec gives it a 4 MiB-aligned load bias, so
 * DAX maps the blob with four megapages. */
#include <stdint.h>

#define PAGE 4096
#define BIG_BYTES (16u << 20)
#define BIG_MAGIC 0x51970000u

extern const uint32_t big_blob[];

/* Pages in the blob. */
unsigned big_pages(void) { return BIG_BYTES / PAGE; }

/* Read the first word of every page of the blob; returns how many pages do
 * not hold what they should (0 when the mapping is right). */
unsigned big_touch(void) {
  unsigned bad = 0;
  const volatile uint32_t *b = big_blob;
  for (unsigned i = 0; i < BIG_BYTES / PAGE; i++) {
    if (b[i * (PAGE / 4)] != (BIG_MAGIC ^ i)) bad++;
  }
  return bad;
}
