/* amo: every RV32A AMO on pairs of edge-case values, LR/SC, and the
 * uncontended xc_mutex paths (which never call futex). */
#include <stdint.h>
#include <stdio.h>
#include <xc/sync.h>

#define AMO(name)                                                                      \
  static uint32_t amo_##name(volatile uint32_t *p, uint32_t v) {                        \
    uint32_t old;                                                                      \
    __asm__ volatile(#name ".w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory"); \
    return old;                                                                        \
  }
AMO(amoswap)
AMO(amoadd)
AMO(amoxor)
AMO(amoand)
AMO(amoor)
AMO(amomin)
AMO(amomax)
AMO(amominu)
AMO(amomaxu)

static const struct {
  const char *name;
  uint32_t (*fn)(volatile uint32_t *, uint32_t);
} amos[] = {
    {"amoswap", amo_amoswap}, {"amoadd", amo_amoadd}, {"amoxor", amo_amoxor},
    {"amoand", amo_amoand},   {"amoor", amo_amoor},   {"amomin", amo_amomin},
    {"amomax", amo_amomax},   {"amominu", amo_amominu}, {"amomaxu", amo_amomaxu},
};

static const uint32_t vals[] = {0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 0x12345678};

static volatile uint32_t cell;

/* Add 1 with an LR/SC loop; returns how many SC attempts failed. */
static uint32_t lrsc_increment(volatile uint32_t *p) {
  uint32_t tmp, fail, failures = 0;
  for (;;) {
    __asm__ volatile(
        "lr.w.aq %0, (%2)\n"
        "addi %0, %0, 1\n"
        "sc.w.rl %1, %0, (%2)\n"
        : "=&r"(tmp), "=&r"(fail)
        : "r"(p)
        : "memory");
    if (fail == 0) return failures;
    failures++;
  }
}

int main(void) {
  for (unsigned o = 0; o < sizeof amos / sizeof amos[0]; o++) {
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
      for (unsigned j = 0; j < sizeof vals / sizeof vals[0]; j++) {
        cell = vals[i];
        uint32_t old = amos[o].fn(&cell, vals[j]);
        printf("%s %08x %08x -> old %08x new %08x\n", amos[o].name, vals[i], vals[j], old, cell);
      }
    }
  }

  cell = 0;
  for (int i = 0; i < 1000; i++) lrsc_increment(&cell);
  printf("lr/sc: 1000 increments give %u\n", cell);

  /* An SC always drops the reservation, so a second SC right after a
   * successful one must fail and leave memory alone. */
  uint32_t loaded, first, second;
  cell = 5;
  do {
    __asm__ volatile(
        "lr.w %0, (%3)\n"
        "sc.w %1, %4, (%3)\n"
        "sc.w %2, %5, (%3)\n"
        : "=&r"(loaded), "=&r"(first), "=&r"(second)
        : "r"(&cell), "r"(6), "r"(7)
        : "memory");
  } while (first != 0);
  printf("lr/sc: loaded %u, second sc %s, memory %u\n", loaded, second ? "failed" : "succeeded",
         cell);

  xc_mutex m = XC_MUTEX_INIT;
  xc_mutex_lock(&m);
  int busy = xc_mutex_trylock(&m);
  xc_mutex_unlock(&m);
  int free_now = xc_mutex_trylock(&m);
  xc_mutex_unlock(&m);
  printf("mutex: trylock while held %d, after unlock %d, state %d\n", busy, free_now, m.state);
  return 0;
}
