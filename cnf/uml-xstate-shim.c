/*
 * LD_PRELOAD shim that lets Debian 12's user-mode Linux (6.1) run on hosts
 * whose XSAVE area is larger than the one UML was built for (AVX-512, AMX).
 *
 * Why: UML saves and restores its processes' FPU state with
 * PTRACE_GETREGSET/SETREGSET(NT_X86_XSTATE) using a buffer of its own fixed
 * size. Since Linux 5.14 the host's SETREGSET refuses (EFAULT) any buffer that
 * is not the host's whole standard-format XSAVE size, so on such a host UML's
 * init dies at its first context switch ("ptrace set fp regs failed, errno =
 * 14", then "Attempted to kill init"). Later UML kernels size the buffer from
 * CPUID; Debian 12 ships only 6.1.
 *
 * What: a SETREGSET(NT_X86_XSTATE) with a short buffer is widened: the
 * tracee's whole current state is read, UML's bytes (legacy area, header and
 * the components it knows) are laid over its start, and the whole buffer is
 * written back. Components UML does not know keep the tracee's own values.
 * Every other request goes to libc's ptrace unchanged. Built and used by the
 * tests and benchmarks that boot UML (cnf/uml-shim.sh).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NT_X86_XSTATE 0x202

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

long ptrace(enum __ptrace_request request, ...)
{
    static ptrace_fn real;
    /* Larger than any XSAVE area so far (AMX's is about 11 KiB). */
    static __thread unsigned char whole_state[64 * 1024] __attribute__((aligned(64)));
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if (!real) real = (ptrace_fn) dlsym(RTLD_NEXT, "ptrace");
    if (request == PTRACE_SETREGSET && (long) addr == NT_X86_XSTATE && data) {
        struct iovec *given = data;
        struct iovec whole = { whole_state, sizeof whole_state };
        if (real(PTRACE_GETREGSET, pid, addr, &whole) == 0 && whole.iov_len > given->iov_len) {
            memcpy(whole_state, given->iov_base, given->iov_len);
            return real(PTRACE_SETREGSET, pid, addr, &whole);
        }
    }
    return real(request, pid, addr, data);
}
