/* mext: every RV32M instruction on every pair of a set of edge-case
 * operands, including division by zero and INT_MIN / -1, whose results the
 * ISA defines (no trap). The instructions are written in asm so the
 * compiler cannot fold or avoid them. */
#include <stdint.h>
#include <stdio.h>

#define OP(name)                                                                 \
  static uint32_t op_##name(uint32_t a, uint32_t b) {                            \
    uint32_t r;                                                                  \
    __asm__ volatile(#name " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));            \
    return r;                                                                    \
  }
OP(mul)
OP(mulh)
OP(mulhsu)
OP(mulhu)
OP(div)
OP(divu)
OP(rem)
OP(remu)

static const struct {
  const char *name;
  uint32_t (*fn)(uint32_t, uint32_t);
} ops[] = {
    {"mul", op_mul}, {"mulh", op_mulh}, {"mulhsu", op_mulhsu}, {"mulhu", op_mulhu},
    {"div", op_div}, {"divu", op_divu}, {"rem", op_rem},       {"remu", op_remu},
};

static const uint32_t vals[] = {0, 1, 0xffffffff, 7, 0xfffffff9, 0x7fffffff, 0x80000000, 0x12345678};

int main(void) {
  int n = 0;
  for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
      for (unsigned j = 0; j < sizeof vals / sizeof vals[0]; j++) {
        printf("%s %08x %08x = %08x\n", ops[o].name, vals[i], vals[j], ops[o].fn(vals[i], vals[j]));
        n++;
      }
    }
  }
  printf("mext: %d results\n", n);
  return 0;
}
