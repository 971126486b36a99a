/* big_blob: the 16 MiB of libbig.so's read-only segment (see libbig.c).
 * BLOB_PATH is the file guest/build.ts generates, deterministically. */
  .section .rodata.big, "a", @progbits
  .balign 4096
  .globl big_blob
  .type big_blob, @object
big_blob:
  .incbin BLOB_PATH
  .size big_blob, . - big_blob
