#ifndef XC_SYS_AUXV_H
#define XC_SYS_AUXV_H

#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_BASE 7
#define AT_ENTRY 9

/* Value of auxiliary-vector entry `type` from the initial stack, 0 if absent. */
unsigned long getauxval(unsigned long type);

#endif
