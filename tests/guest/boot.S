/* Multiboot (v1) entry of the ferry test guest: the loader leaves us in 32-bit protected mode with
 * paging off; set up a stack and hand the loader's magic and info pointer to guest_main(). */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003          /* page-aligned modules, memory information wanted */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text
    .global _start
_start:
    cli
    cld                                /* multiboot leaves EFLAGS.DF undefined; C code assumes 0 */
    mov $boot_stack_top, %esp
    push %ebx
    push %eax
    call guest_main
halt:
    hlt
    jmp halt

    .section .bss
    .align 16
    .skip 65536
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
