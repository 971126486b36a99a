/* crt0.c: the program entry point, linked into every program (never into
 * libc.so, because _start belongs to the program).
 *
 * On entry (Linux RISC-V ABI): sp points at argc, then argv[], NULL,
 * envp[], NULL, auxv pairs, AT_NULL; a0 holds a function the loader wants
 * run at exit, or 0. Nothing else is assumed: gp is not used because the
 * guest is linked without relaxation.
 *
 * Built twice. crt0.o is for dynamic (PIE) programs, whose .init_array the
 * runtime's loader runs. crt0-static.o (XC_STATIC) is for static programs,
 * which have no loader, so it runs .init_array itself and registers the
 * .fini_array walk with atexit. */

typedef void (*xc_fn)(void);

void __xc_start_main(int (*main)(int, char **, char **), unsigned long *sp, xc_fn rtld_fini,
                     xc_fn *init_begin, xc_fn *init_end, xc_fn fini_all)
    __attribute__((noreturn));

#ifdef XC_STATIC
extern xc_fn __init_array_start[] __attribute__((visibility("hidden")));
extern xc_fn __init_array_end[] __attribute__((visibility("hidden")));
extern xc_fn __fini_array_start[] __attribute__((visibility("hidden")));
extern xc_fn __fini_array_end[] __attribute__((visibility("hidden")));

static void xc_run_fini_array(void) {
  for (xc_fn *f = __fini_array_end; f > __fini_array_start;) (*--f)();
}

__attribute__((used, visibility("hidden"))) void __xc_start_c(unsigned long *sp, xc_fn rtld_fini) {
  extern int main(int, char **, char **);
  __xc_start_main(main, sp, rtld_fini, __init_array_start, __init_array_end, xc_run_fini_array);
}
#else
__attribute__((used, visibility("hidden"))) void __xc_start_c(unsigned long *sp, xc_fn rtld_fini) {
  extern int main(int, char **, char **);
  __xc_start_main(main, sp, rtld_fini, 0, 0, 0);
}
#endif

/* _start: keep the entry sp, align the stack for C, and never return. */
__asm__(
    "  .text\n"
    "  .globl _start\n"
    "  .type _start, @function\n"
    "_start:\n"
    "  mv a1, a0\n"
    "  mv a0, sp\n"
    "  andi sp, sp, -16\n"
    "  call __xc_start_c\n"
    "  unimp\n"
    "  .size _start, . - _start\n");
